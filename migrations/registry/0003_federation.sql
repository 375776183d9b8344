CREATE TABLE `federation_relationships` (
	`trust_domain` text PRIMARY KEY NOT NULL,
	`bundle_endpoint_url` text NOT NULL,
	`profile` text NOT NULL,
	`created_at` integer NOT NULL,
	`bundle_json` text,
	`sequence` integer,
	`last_fetch_at` integer,
	`last_success_at` integer,
	`last_error` text,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`next_refresh_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `federation_next_refresh_at` ON `federation_relationships` (`next_refresh_at`);