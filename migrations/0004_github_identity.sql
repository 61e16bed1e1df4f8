ALTER TABLE "sessions" ADD COLUMN "pull_request_url" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "github_id" bigint;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "github_login" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "github_token_encrypted" text;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_github_id_unique" UNIQUE("github_id");