CREATE TABLE `collateral_backoff` (
	`key` text PRIMARY KEY NOT NULL,
	`failures` integer NOT NULL,
	`next_attempt_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `collateral_items` (
	`key` text PRIMARY KEY NOT NULL,
	`body` text NOT NULL,
	`headers` text NOT NULL,
	`source` text NOT NULL,
	`fetched_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
