import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import type { NetworkPolicy } from "../profiles/network.ts";
import { SESSION_STATUSES } from "../sessions/state.ts";

const id = () => uuid("id").primaryKey().defaultRandom();
const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();
const ts = (name: string) => timestamp(name, { withTimezone: true });

export const roleEnum = pgEnum("member_role", ["owner", "admin", "member"]);
export const sessionStatusEnum = pgEnum("session_status", SESSION_STATUSES);
export const snapshotStatusEnum = pgEnum("snapshot_status", [
  "queued",
  "running",
  "ready",
  "failed",
]);
export const profileVersionStatusEnum = pgEnum("profile_version_status", ["draft", "published"]);
export const tokenKindEnum = pgEnum("token_kind", ["api", "login", "browser"]);

export const organizations = pgTable(
  "organizations",
  {
    id: id(),
    name: text("name").notNull(),
    slug: text("slug").notNull().unique(),
    isDefault: boolean("is_default").notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("organizations_one_default")
      .on(t.isDefault)
      .where(sql`${t.isDefault}`),
  ],
);

export const users = pgTable("users", {
  id: id(),
  email: text("email").unique(),
  name: text("name").notNull(),
  /** Set when the user signs in with GitHub. */
  githubId: bigint("github_id", { mode: "number" }).unique(),
  githubLogin: text("github_login"),
  /** The user's GitHub OAuth token, encrypted, so pull requests can be opened as them. */
  githubTokenEncrypted: text("github_token_encrypted"),
  createdAt: createdAt(),
});

export const memberships = pgTable(
  "memberships",
  {
    orgId: uuid("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: roleEnum("role").notNull().default("member"),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.userId] }), index("memberships_user").on(t.userId)],
);

export const orgSettings = pgTable("org_settings", {
  orgId: uuid("org_id")
    .primaryKey()
    .references(() => organizations.id, { onDelete: "cascade" }),
  allowPersistentSandboxes: boolean("allow_persistent_sandboxes").notNull().default(false),
  concurrencyLimit: integer("concurrency_limit").notNull().default(4),
  /** Model tokens (input + output) the org's sessions may use per calendar month (UTC); null is unlimited. */
  monthlyTokenBudget: bigint("monthly_token_budget", { mode: "number" }),
  /** Model tokens (input + output) one session may use in its life; null is unlimited. */
  sessionTokenBudget: bigint("session_token_budget", { mode: "number" }),
});

/** Bearer tokens, one-time login links and browser sessions; only a hash is stored. */
export const apiTokens = pgTable("api_tokens", {
  id: id(),
  userId: uuid("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  kind: tokenKindEnum("kind").notNull(),
  name: text("name").notNull().default(""),
  tokenHash: text("token_hash").notNull().unique(),
  expiresAt: ts("expires_at"),
  usedAt: ts("used_at"),
  createdAt: createdAt(),
});

export const installations = pgTable(
  "installations",
  {
    id: id(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    provider: text("provider").notNull(),
    externalId: text("external_id").notNull(),
    data: jsonb("data").notNull().default({}),
    credentialsEncrypted: text("credentials_encrypted"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("installations_provider_external").on(t.provider, t.externalId)],
);

export const repositories = pgTable(
  "repositories",
  {
    id: id(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    cloneUrl: text("clone_url").notNull(),
    defaultBranch: text("default_branch").notNull().default("main"),
    installationId: uuid("installation_id").references(() => installations.id, {
      onDelete: "set null",
    }),
    credentialEncrypted: text("credential_encrypted"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("repositories_org_name").on(t.orgId, t.name)],
);

export const sandboxProfiles = pgTable(
  "sandbox_profiles",
  {
    id: id(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** Inactive profiles keep their versions but start no new sessions. */
    active: boolean("active").notNull().default(true),
    /** A cron expression (UTC) for rebuilding the newest published version's snapshot; null for none. */
    refreshCron: text("refresh_cron"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("sandbox_profiles_org_name").on(t.orgId, t.name)],
);

export const sandboxProfileVersions = pgTable(
  "sandbox_profile_versions",
  {
    id: id(),
    profileId: uuid("profile_id")
      .notNull()
      .references(() => sandboxProfiles.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    status: profileVersionStatusEnum("status").notNull().default("draft"),
    spec: jsonb("spec").notNull().default({}),
    publishedAt: ts("published_at"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("profile_versions_profile_version").on(t.profileId, t.version)],
);

export const snapshots = pgTable("snapshots", {
  id: id(),
  profileVersionId: uuid("profile_version_id")
    .notNull()
    .references(() => sandboxProfileVersions.id, { onDelete: "cascade" }),
  status: snapshotStatusEnum("status").notNull().default("queued"),
  /** What asked for it: publish, refresh (by hand) or schedule (the profile's cron). */
  trigger: text("trigger", { enum: ["publish", "refresh", "schedule"] })
    .notNull()
    .default("publish"),
  /** Null on a ready snapshot that needed no build: the version's image is used as it is. */
  imageRef: text("image_ref"),
  log: text("log").notNull().default(""),
  createdAt: createdAt(),
  finishedAt: ts("finished_at"),
});

export const sessions = pgTable(
  "sessions",
  {
    id: id(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    repositoryId: uuid("repository_id")
      .notNull()
      .references(() => repositories.id),
    profileVersionId: uuid("profile_version_id").references(() => sandboxProfileVersions.id),
    status: sessionStatusEnum("status").notNull().default("queued"),
    prompt: text("prompt").notNull(),
    /** Set by a person; null shows the prompt's first line (sessionTitle). */
    title: text("title"),
    source: text("source").notNull().default("api"),
    agent: text("agent").notNull().default("codex"),
    /** The work branch starts here: a branch, tag or commit; null for the default branch. */
    baseRef: text("base_ref"),
    /** Where the work left Tandem, once it has. */
    pullRequestUrl: text("pull_request_url"),
    branch: text("branch"),
    error: text("error"),
    /** The last `seq` given to one of its events; bumping it locks the row, so seqs commit in order. */
    lastEventSeq: integer("last_event_seq").notNull().default(0),
    /** Hash of the per-session token the sandbox uses for the model proxy and git credentials. */
    sandboxTokenHash: text("sandbox_token_hash").unique(),
    /** The agent's own conversation id, for resuming it on follow-ups. */
    agentThreadId: text("agent_thread_id"),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
    endedAt: ts("ended_at"),
  },
  (t) => [
    index("sessions_org_created").on(t.orgId, t.createdAt),
    index("sessions_status").on(t.status),
  ],
);

/** One metered model reply, so an org's usage can be summed over a time window. */
export const modelUsage = pgTable(
  "model_usage",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    sessionId: uuid("session_id").references(() => sessions.id, { onDelete: "set null" }),
    inputTokens: integer("input_tokens").notNull(),
    outputTokens: integer("output_tokens").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("model_usage_org_created").on(t.orgId, t.createdAt)],
);

export const sessionBindings = pgTable(
  "session_bindings",
  {
    id: id(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    provider: text("provider").notNull(),
    threadKey: text("thread_key").notNull(),
    /** The link back to the thread, when the provider knows it at bind time (a Linear issue). */
    url: text("url"),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("session_bindings_thread").on(t.provider, t.threadKey),
    index("session_bindings_session").on(t.sessionId),
  ],
);

export const sessionMessages = pgTable(
  "session_messages",
  {
    id: id(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    authorUserId: uuid("author_user_id").references(() => users.id, { onDelete: "set null" }),
    source: text("source").notNull(),
    text: text("text").notNull(),
    createdAt: createdAt(),
    consumedAt: ts("consumed_at"),
  },
  (t) => [index("session_messages_session").on(t.sessionId, t.createdAt)],
);

/** The session's event log; `seq` numbers each session's events 1, 2, 3… for SSE replay. */
export const sessionEvents = pgTable(
  "session_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    type: text("type").notNull(),
    data: jsonb("data").notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("session_events_session_seq").on(t.sessionId, t.seq)],
);

/**
 * One agent run. Its output is a file in the sandbox; `outputOffset` is how far the worker has
 * turned it into events, committed together with those events, so a new worker resumes exactly.
 */
export const sessionTurns = pgTable(
  "session_turns",
  {
    id: id(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    number: integer("number").notNull(),
    messageId: uuid("message_id").references(() => sessionMessages.id, { onDelete: "set null" }),
    status: text("status", { enum: ["running", "completed", "failed", "interrupted"] })
      .notNull()
      .default("running"),
    outputPath: text("output_path").notNull(),
    outputOffset: integer("output_offset").notNull().default(0),
    exitCode: integer("exit_code"),
    startedAt: ts("started_at").notNull().defaultNow(),
    endedAt: ts("ended_at"),
  },
  (t) => [uniqueIndex("session_turns_session_number").on(t.sessionId, t.number)],
);

export const sandboxes = pgTable("sandboxes", {
  id: id(),
  sessionId: uuid("session_id").references(() => sessions.id, { onDelete: "set null" }),
  orgId: uuid("org_id")
    .notNull()
    .references(() => organizations.id, { onDelete: "cascade" }),
  provider: text("provider").notNull(),
  externalId: text("external_id"),
  status: text("status").notNull().default("creating"),
  persistent: boolean("persistent").notNull().default(false),
  /** Named volumes holding the persistent paths: `[{ name, path }]`; removed with the session. */
  volumes: jsonb("volumes").$type<Array<{ name: string; path: string }>>().notNull().default([]),
  createdAt: createdAt(),
  removedAt: ts("removed_at"),
});

/**
 * Tokens for sandboxes that belong to no session (snapshot builds, setup-script tests): they may
 * ask the git credential route for the listed repositories until they expire or are deleted.
 */
export const sandboxTokens = pgTable("sandbox_tokens", {
  tokenHash: text("token_hash").primaryKey(),
  orgId: uuid("org_id")
    .notNull()
    .references(() => organizations.id, { onDelete: "cascade" }),
  repositoryIds: jsonb("repository_ids").$type<string[]>().notNull().default([]),
  purpose: text("purpose").notNull(),
  /** The network policy of the version being built or tested, and its label ("profile node v3"). */
  network: jsonb("network").$type<NetworkPolicy>(),
  label: text("label"),
  expiresAt: ts("expires_at").notNull(),
  createdAt: createdAt(),
});

/**
 * Every decision of the gateway's egress proxy: who asked (a session, or a build by purpose),
 * for which host, what was decided and why, and the bytes each way once the connection closed.
 */
export const sandboxEgress = pgTable(
  "sandbox_egress",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    sessionId: uuid("session_id").references(() => sessions.id, { onDelete: "cascade" }),
    /** "session", or the build token's purpose (e.g. "snapshot"). */
    purpose: text("purpose").notNull(),
    host: text("host").notNull(),
    port: integer("port").notNull(),
    /** CONNECT, or the method of a plain-HTTP request. */
    method: text("method").notNull(),
    decision: text("decision", { enum: ["allowed", "blocked", "intercepted"] }).notNull(),
    reason: text("reason").notNull(),
    bytesUp: bigint("bytes_up", { mode: "number" }).notNull().default(0),
    bytesDown: bigint("bytes_down", { mode: "number" }).notNull().default(0),
    createdAt: createdAt(),
    closedAt: ts("closed_at"),
  },
  (t) => [index("sandbox_egress_session").on(t.sessionId, t.createdAt)],
);

export const automations = pgTable("automations", {
  id: id(),
  orgId: uuid("org_id")
    .notNull()
    .references(() => organizations.id, { onDelete: "cascade" }),
  name: text("name").notNull(),
  trigger: jsonb("trigger").notNull(),
  prompt: text("prompt").notNull(),
  repositoryId: uuid("repository_id").references(() => repositories.id, { onDelete: "cascade" }),
  profileId: uuid("profile_id").references(() => sandboxProfiles.id, { onDelete: "set null" }),
  enabled: boolean("enabled").notNull().default(true),
  createdAt: createdAt(),
});

/** The inbox: a provider delivery is committed here before it is acknowledged. */
export const inboundEvents = pgTable(
  "inbound_events",
  {
    id: id(),
    provider: text("provider").notNull(),
    deliveryId: text("delivery_id").notNull(),
    orgId: uuid("org_id").references(() => organizations.id, { onDelete: "set null" }),
    payload: jsonb("payload").notNull(),
    receivedAt: ts("received_at").notNull().defaultNow(),
    enqueuedAt: ts("enqueued_at"),
    processedAt: ts("processed_at"),
    attempts: integer("attempts").notNull().default(0),
    error: text("error"),
  },
  (t) => [
    uniqueIndex("inbound_events_delivery").on(t.provider, t.deliveryId),
    index("inbound_events_unprocessed")
      .on(t.receivedAt)
      .where(sql`${t.processedAt} is null`),
  ],
);

/** Messages Tandem posted to a provider, so the reporter can edit them in place. */
export const outboundMessages = pgTable(
  "outbound_messages",
  {
    id: id(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    provider: text("provider").notNull(),
    kind: text("kind").notNull(),
    target: text("target").notNull(),
    externalId: text("external_id"),
    createdAt: createdAt(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("outbound_messages_session_kind_target").on(
      t.sessionId,
      t.provider,
      t.kind,
      t.target,
    ),
  ],
);

/** A chat channel's default repository (Slack `/tandem repo owner/repo`); `channelKey` is provider-specific. */
export const channelDefaults = pgTable(
  "channel_defaults",
  {
    id: id(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    provider: text("provider").notNull(),
    channelKey: text("channel_key").notNull(),
    repositoryId: uuid("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [uniqueIndex("channel_defaults_provider_channel").on(t.provider, t.channelKey)],
);

/**
 * A request that cannot start yet because someone has to choose (e.g. the repository picker);
 * `payload` holds what starting needs. It is deleted when taken, and ignored after `expiresAt`.
 */
export const pendingRequests = pgTable(
  "pending_requests",
  {
    id: id(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    provider: text("provider").notNull(),
    threadKey: text("thread_key").notNull(),
    payload: jsonb("payload").notNull(),
    expiresAt: ts("expires_at").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("pending_requests_expires").on(t.expiresAt)],
);
