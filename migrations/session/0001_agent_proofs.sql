CREATE TABLE `seen_proofs` (
	`jti` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `seen_proofs_expires_at` ON `seen_proofs` (`expires_at`);