CREATE TABLE `authorities` (
	`id` text PRIMARY KEY NOT NULL,
	`track` text NOT NULL,
	`key_type` text NOT NULL,
	`status` text NOT NULL,
	`kid` text,
	`wrapped_key` text NOT NULL,
	`public_jwk` text NOT NULL,
	`certificate` text,
	`not_before` integer NOT NULL,
	`not_after` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `authorities_track_status` ON `authorities` (`track`,`status`);--> statement-breakpoint
CREATE TABLE `bundle_state` (
	`id` integer PRIMARY KEY NOT NULL,
	`sequence` integer NOT NULL,
	`keys` text NOT NULL,
	`jwks` text NOT NULL,
	`updated_at` integer NOT NULL
);
