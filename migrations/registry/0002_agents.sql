CREATE TABLE `agents` (
	`spiffe_id` text PRIMARY KEY NOT NULL,
	`attestation_type` text NOT NULL,
	`selectors_key` text NOT NULL,
	`svid_serial` text NOT NULL,
	`svid_expires_at` integer NOT NULL,
	`can_reattest` integer NOT NULL,
	`banned` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `agents_attestation_type` ON `agents` (`attestation_type`);