ALTER TABLE "sandbox_tokens" ADD COLUMN "network" jsonb;--> statement-breakpoint
ALTER TABLE "sandbox_tokens" ADD COLUMN "label" text;