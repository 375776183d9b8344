CREATE TABLE `entry_tombstones` (
	`id` text PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `entry_tombstones_seq` ON `entry_tombstones` (`seq`);--> statement-breakpoint
CREATE TABLE `sync_counters` (
	`id` integer PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL,
	`structure_seq` integer NOT NULL,
	`tombstone_floor` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `entries` ADD `changed_seq` integer DEFAULT 0 NOT NULL;