CREATE TABLE `entries` (
	`id` text PRIMARY KEY NOT NULL,
	`spiffe_id` text NOT NULL,
	`parent_id` text NOT NULL,
	`selectors_key` text NOT NULL,
	`x509_svid_ttl` integer NOT NULL,
	`jwt_svid_ttl` integer NOT NULL,
	`federates_with` text NOT NULL,
	`dns_names` text NOT NULL,
	`admin` integer NOT NULL,
	`downstream` integer NOT NULL,
	`hint` text NOT NULL,
	`expires_at` integer NOT NULL,
	`revision_number` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `entries_identity` ON `entries` (`spiffe_id`,`parent_id`,`selectors_key`);--> statement-breakpoint
CREATE INDEX `entries_parent_id` ON `entries` (`parent_id`);--> statement-breakpoint
CREATE INDEX `entries_hint` ON `entries` (`hint`);--> statement-breakpoint
CREATE TABLE `entry_selectors` (
	`entry_id` text NOT NULL,
	`type` text NOT NULL,
	`value` text NOT NULL,
	PRIMARY KEY(`entry_id`, `type`, `value`)
);
--> statement-breakpoint
CREATE INDEX `entry_selectors_type_value` ON `entry_selectors` (`type`,`value`);--> statement-breakpoint
CREATE TABLE `join_tokens` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `join_tokens_expires_at` ON `join_tokens` (`expires_at`);