CREATE TABLE `sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`state` text NOT NULL,
	`tee` text NOT NULL,
	`nonce` text NOT NULL,
	`hash_algorithm` text NOT NULL,
	`policy_id` text NOT NULL,
	`token` text,
	`client` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `sessions_expires_at` ON `sessions` (`expires_at`);