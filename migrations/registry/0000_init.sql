CREATE TABLE `kbs_policies` (
	`key` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`policy_id` text NOT NULL,
	`body` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `kbs_resources` (
	`path` text PRIMARY KEY NOT NULL,
	`sealed_value` text NOT NULL,
	`size` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `reference_values` (
	`name` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL
);
