CREATE TABLE "sandbox_egress" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"session_id" uuid,
	"purpose" text NOT NULL,
	"host" text NOT NULL,
	"port" integer NOT NULL,
	"method" text NOT NULL,
	"decision" text NOT NULL,
	"reason" text NOT NULL,
	"bytes_up" bigint DEFAULT 0 NOT NULL,
	"bytes_down" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"closed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "sandbox_egress" ADD CONSTRAINT "sandbox_egress_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sandbox_egress" ADD CONSTRAINT "sandbox_egress_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "sandbox_egress_session" ON "sandbox_egress" USING btree ("session_id","created_at");--> statement-breakpoint
-- Specs from before network policies held a string: none stays closed; host and Docker network names reached anywhere.
UPDATE "sandbox_profile_versions" SET "spec" = jsonb_set("spec", '{network}', CASE WHEN "spec"->>'network' = 'none' THEN '{"egress":"none"}'::jsonb ELSE '{"egress":"open"}'::jsonb END) WHERE jsonb_typeof("spec"->'network') = 'string';
