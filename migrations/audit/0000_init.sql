CREATE TABLE `audit_records` (
	`id` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`outcome` text NOT NULL,
	`reason` text,
	`session_id` text,
	`tee` text,
	`evidence_digest` text,
	`measurement` text,
	`platform_id` text,
	`init_data_digest` text,
	`policy_id` text,
	`resource_path` text,
	`token_id` text,
	`client` text
);
--> statement-breakpoint
CREATE INDEX `audit_at_id` ON `audit_records` (`at`,`id`);--> statement-breakpoint
CREATE INDEX `audit_kind_at` ON `audit_records` (`kind`,`at`,`id`);--> statement-breakpoint
CREATE INDEX `audit_outcome_at` ON `audit_records` (`outcome`,`at`,`id`);--> statement-breakpoint
CREATE INDEX `audit_tee_at` ON `audit_records` (`tee`,`at`,`id`);--> statement-breakpoint
CREATE INDEX `audit_session_at` ON `audit_records` (`session_id`,`at`,`id`);--> statement-breakpoint
CREATE INDEX `audit_resource_at` ON `audit_records` (`resource_path`,`at`,`id`);