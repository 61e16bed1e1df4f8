CREATE TABLE "session_turns" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"session_id" uuid NOT NULL,
	"number" integer NOT NULL,
	"message_id" uuid,
	"status" text DEFAULT 'running' NOT NULL,
	"output_path" text NOT NULL,
	"output_offset" integer DEFAULT 0 NOT NULL,
	"exit_code" integer,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "sandbox_token_hash" text;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "agent_thread_id" text;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "input_tokens" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "output_tokens" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "session_turns" ADD CONSTRAINT "session_turns_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_turns" ADD CONSTRAINT "session_turns_message_id_session_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."session_messages"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "session_turns_session_number" ON "session_turns" USING btree ("session_id","number");--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_sandbox_token_hash_unique" UNIQUE("sandbox_token_hash");