import { z } from "zod";
import { portsOriginProblem } from "./ports-origin.ts";

const url = (what: string) => z.url({ error: `expected a URL (${what})` });
const optionalUrl = (what: string) => url(what).optional();
const secret = z.string().min(1, { error: "expected a non-empty secret" }).optional();

/** Every setting Tandem reads. Nothing else in the codebase looks at process.env. */
const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: z.coerce.number({ error: "expected a port number" }).int().min(0).max(65535).default(3000),
  HOST: z.string().default("0.0.0.0"),
  /** Unset: http://localhost:$PORT (or http://$HOST:$PORT when HOST names one address). */
  PUBLIC_URL: url("the address people open, e.g. https://tandem.example.com").default(
    "http://localhost:3000",
  ),
  /** The second listener: sandbox ports opened from the workbench, on their own origin (web/src/ports/). */
  PORTS_PORT: z.coerce
    .number({ error: "expected a port number" })
    .int()
    .min(0)
    .max(65535)
    .default(3001),
  /** Its public base; each session's port is `<port>-<session id>.<its host>`. Unset → http://localhost:$PORTS_PORT. */
  PORTS_PUBLIC_URL: optionalUrl("the ports origin's base, e.g. https://tandem-ports.example.net"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  DATA_DIR: z.string().min(1).default("./.data"),
  DATABASE_URL: url("postgres://user:pass@host:5432/db").optional(),
  REDIS_URL: url("redis://host:6379").optional(),
  REDIS_PREFIX: z
    .string()
    .regex(/^[\w-]+$/, { error: "expected letters, digits, - or _" })
    .default("tandem"),
  ADMIN_TOKEN: z.string().min(16, { error: "expected at least 16 characters" }).optional(),
  DEFAULT_ORG_NAME: z.string().min(1).default("Default"),
  /** After this long without a heartbeat, another worker takes over a dead worker's session. */
  SESSION_LOCK_MS: z.coerce
    .number({ error: "expected milliseconds" })
    .int()
    .min(1_000)
    .default(30_000),
  SESSION_CONCURRENCY: z.coerce
    .number({ error: "expected a whole number" })
    .int()
    .min(1)
    .default(4),
  INBOX_SWEEP_INTERVAL_MS: z.coerce
    .number({ error: "expected milliseconds" })
    .int()
    .min(100)
    .default(30_000),

  SANDBOX_PROVIDER: z
    .enum(["docker", "local"], { error: "expected docker or local" })
    .default("docker"),
  SANDBOX_IMAGE: z.string().min(1).default("tandem/sandbox:latest"),
  /** How a sandbox reaches Tandem (model proxy, git credentials); unset → http://127.0.0.1:$PORT. */
  SANDBOX_CONTROL_URL: optionalUrl("the control plane as the sandbox reaches it"),
  /**
   * `gateway` (no network; the sandbox gateway's socket is its only way out), or, without the
   * gateway: `none`, `host` (development only) or a Docker network name.
   */
  SANDBOX_NETWORK: z
    .string()
    .regex(/^[\w.-]+$/, { error: "expected gateway, none, host or a Docker network name" })
    .default("gateway"),
  /** Where the gateway keeps its socket and the files sandboxes mount from it; unset → $DATA_DIR/gateway. */
  GATEWAY_DIR: z.string().optional(),
  /**
   * What the Docker engine mounts into sandboxes as the gateway's directory when it is not
   * GATEWAY_DIR itself: a path on the engine's host, or a named volume (docker-compose.yml).
   */
  SANDBOX_GATEWAY_SOURCE: z.string().optional(),
  /** Whether a profile may set `hostNetwork: true` (the sandbox on the host's network, no policy): for development. */
  SANDBOX_ALLOW_HOST_NETWORK: z
    .enum(["true", "false"], { error: "expected true or false" })
    .default("false")
    .transform((v) => v === "true"),
  /**
   * `name=host:port` pairs, comma-separated: the egress proxy connects an allowed `name` to
   * `host:port`, even a loopback or private one (which it never reaches otherwise).
   */
  SANDBOX_HOST_ALIASES: z
    .string()
    .default("")
    .transform((v, ctx) => {
      const aliases: Record<string, { host: string; port: number }> = {};
      for (const pair of v
        .split(",")
        .map((p) => p.trim())
        .filter(Boolean)) {
        const m = /^([a-z0-9.-]+)=(\[[0-9a-f:.]+\]|[^:\s]+):(\d{1,5})$/i.exec(pair);
        const port = Number(m?.[3]);
        if (!m || port < 1 || port > 65535) {
          ctx.addIssue({
            code: "custom",
            message: `expected name=host:port pairs, comma-separated (got ${pair})`,
          });
          continue;
        }
        aliases[m[1]!.toLowerCase()] = { host: m[2]!.replace(/^\[|\]$/g, ""), port };
      }
      return aliases;
    }),
  /**
   * Where the sandbox gateway keeps the CA it issues integration hosts' certificates with (its
   * key stays here, never in a sandbox); unset → $DATA_DIR/gateway-ca.
   */
  GATEWAY_CA_DIR: z.string().min(1).optional(),
  SANDBOX_IDLE_MINUTES: z.coerce.number({ error: "expected minutes" }).positive().default(30),
  AGENT: z
    .enum(["codex", "claude-code"], { error: "expected codex or claude-code" })
    .default("codex"),
  DOCKER_HOST: z.string().optional(),
  /**
   * Worker only: serve a Docker API socket here that forwards only inspect and non-root exec on
   * Tandem's sandboxes, for a web process that must not hold the engine (docker-compose.yml).
   */
  DOCKER_EXEC_PROXY_SOCKET: z
    .string()
    .regex(/^\//, { error: "expected an absolute path for a unix socket" })
    .optional(),

  MODEL_UPSTREAM_URL: url("an OpenAI-compatible base URL").default("https://api.openai.com/v1"),
  MODEL_UPSTREAM_API_KEY: secret,
  AGENT_MODEL: z.string().min(1).default("gpt-5-codex"),

  SLACK_API_URL: url("Slack Web API base").default("https://slack.com/api/"),
  SLACK_BOT_TOKEN: secret,
  SLACK_SIGNING_SECRET: secret,
  SLACK_APP_TOKEN: secret,
  /** Whether messages of other bots (never Tandem's own) may start and continue sessions. */
  SLACK_ALLOW_BOTS: z
    .enum(["true", "false"], { error: "expected true or false" })
    .default("false")
    .transform((v) => v === "true"),
  SLACK_CLIENT_ID: z.string().optional(),
  SLACK_CLIENT_SECRET: secret,
  GITHUB_API_URL: url("GitHub REST API base").default("https://api.github.com"),
  GITHUB_APP_ID: z.string().optional(),
  /** GitHub's web host for OAuth sign-in (github.com, or your GitHub Enterprise Server). */
  GITHUB_URL: url("GitHub web base, e.g. https://github.com").default("https://github.com"),
  GITHUB_CLIENT_ID: z.string().optional(),
  GITHUB_CLIENT_SECRET: secret,
  GITHUB_PRIVATE_KEY: secret,
  GITHUB_WEBHOOK_SECRET: secret,
  /** Comma-separated GitHub logins allowed to start sessions (they still need write access); unset: anyone with write access. */
  GITHUB_ALLOWED_USERS: z.string().optional(),
  /**
   * A GitHub login (a machine user, say) whose assignment to an issue starts a session, as the
   * App's bot's does: GitHub does not let an App's `<slug>[bot]` be picked as an assignee.
   */
  GITHUB_AGENT_LOGIN: z.string().optional(),
  LINEAR_API_URL: url("Linear GraphQL endpoint").default("https://api.linear.app/graphql"),
  LINEAR_API_KEY: secret,
  /** The signing secret of the Linear app's webhook (Linear-Signature); with it, Linear starts sessions. */
  LINEAR_WEBHOOK_SECRET: secret,
  /** The Linear OAuth app, installed per workspace as the agent (actor=app) from /linear/install. */
  LINEAR_CLIENT_ID: z.string().optional(),
  LINEAR_CLIENT_SECRET: secret,
  LINEAR_AUTHORIZE_URL: url("Linear's OAuth authorize page").default(
    "https://linear.app/oauth/authorize",
  ),
  /** Whether an issue not yet started moves to its team's first `started` state when the agent begins. */
  LINEAR_MOVE_TO_STARTED: z
    .enum(["true", "false"], { error: "expected true or false" })
    .default("true")
    .transform((v) => v === "true"),
  JIRA_BASE_URL: optionalUrl("your Jira site, e.g. https://acme.atlassian.net"),
  /** The agent's Atlassian account (Basic auth with JIRA_API_TOKEN): what Tandem comments as. */
  JIRA_EMAIL: z.string().optional(),
  JIRA_API_TOKEN: secret,
  /** The secret of the site's admin webhook (X-Hub-Signature); with it, Jira starts sessions. */
  JIRA_WEBHOOK_SECRET: secret,
  /** The agent's account id; unset: read once from /rest/api/3/myself. */
  JIRA_ACCOUNT_ID: z.string().optional(),
  /** Adding this label to an issue (on create or later) hands it to the agent. */
  JIRA_TRIGGER_LABEL: z
    .string()
    .regex(/^\S+$/, { error: "expected one Jira label (no spaces)" })
    .default("tandem"),
  /** Whether an issue in a to-do status moves to an in-progress one when the agent begins. */
  JIRA_MOVE_TO_IN_PROGRESS: z
    .enum(["true", "false"], { error: "expected true or false" })
    .default("false")
    .transform((v) => v === "true"),

  /** The Discord application's bot token: the gateway (mentions, thread messages) and every REST call. */
  DISCORD_BOT_TOKEN: secret,
  DISCORD_APPLICATION_ID: z
    .string()
    .regex(/^\d{5,25}$/, { error: "expected the application's id (a number)" })
    .optional(),
  /** The application's public key (hex): interactions (the slash command, buttons) are verified with it. */
  DISCORD_PUBLIC_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, {
      error: "expected 64 hex characters (the application's public key)",
    })
    .optional(),
  /** Discord's REST base, without the version. */
  DISCORD_API_URL: url("Discord REST base").default("https://discord.com/api"),
  /** The role (a name or id) a member needs to start, steer and stop sessions; unset: every member. */
  DISCORD_ALLOWED_ROLE: z.string().min(1).optional(),

  ENCRYPTION_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/=]{43,}$/, {
      error: "expected 32 random bytes, base64 (openssl rand -base64 32)",
    })
    .optional(),
});

export type Config = z.infer<typeof schema>;

/** Settings that only make sense together: naming one without the other is a mistake. */
const pairs: Array<[string, string]> = [
  ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"],
  ["SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"],
  ["GITHUB_APP_ID", "GITHUB_PRIVATE_KEY"],
  ["GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"],
  ["JIRA_API_TOKEN", "JIRA_BASE_URL"],
  ["JIRA_API_TOKEN", "JIRA_EMAIL"],
  ["JIRA_WEBHOOK_SECRET", "JIRA_API_TOKEN"],
  ["LINEAR_CLIENT_ID", "LINEAR_CLIENT_SECRET"],
  ["DISCORD_BOT_TOKEN", "DISCORD_APPLICATION_ID"],
  ["DISCORD_PUBLIC_KEY", "DISCORD_BOT_TOKEN"],
];

/** Embedded defaults are for one machine; a production deployment names its own address. */
const requiredInProduction = ["PUBLIC_URL", "DATABASE_URL", "REDIS_URL"];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** How a sandbox off the gateway (host network, the local provider) reaches this control plane. */
export const sandboxControlUrl = (config: Pick<Config, "SANDBOX_CONTROL_URL" | "PORT">) =>
  (config.SANDBOX_CONTROL_URL ?? `http://127.0.0.1:${config.PORT}`).replace(/\/$/, "");

/** Where sandbox ports are served: never Tandem's own origin. */
export const portsPublicUrl = (config: Config) =>
  (config.PORTS_PUBLIC_URL ?? `http://localhost:${config.PORTS_PORT}`).replace(/\/$/, "");

/** The sandbox gateway's CA directory (its key never goes where a sandbox can read it). */
export const gatewayCaDir = (config: Pick<Config, "GATEWAY_CA_DIR" | "DATA_DIR">) =>
  config.GATEWAY_CA_DIR ?? `${config.DATA_DIR.replace(/\/$/, "")}/gateway-ca`;

/**
 * Gateway sandboxes mount the gateway's directory, unix sockets included, from the engine's
 * host: a tcp:// or ssh:// engine has another filesystem, so it needs SANDBOX_GATEWAY_SOURCE
 * naming one there. (Sandboxes reaching a gateway over an internal Docker network is not built.)
 */
const usesRemoteEngineWithoutGateway = (
  c: Pick<
    Config,
    "DOCKER_HOST" | "SANDBOX_PROVIDER" | "SANDBOX_NETWORK" | "SANDBOX_GATEWAY_SOURCE"
  >,
) =>
  c.SANDBOX_PROVIDER === "docker" &&
  c.SANDBOX_NETWORK === "gateway" &&
  !c.SANDBOX_GATEWAY_SOURCE &&
  /^(tcp|ssh|https?):\/\//i.test(c.DOCKER_HOST ?? "");

/** The address of Tandem's own listener (HOST and PORT), as a browser on this machine opens it. */
function listenUrl(c: Pick<Config, "HOST" | "PORT">): string {
  const any = ["0.0.0.0", "::", "", "127.0.0.1", "::1", "localhost"].includes(c.HOST);
  const host = any ? "localhost" : c.HOST.includes(":") ? `[${c.HOST}]` : c.HOST;
  return `http://${host}:${c.PORT}`;
}

/** Parse the environment once; every bad variable is reported, one line each. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "not set": docker-compose and .env files produce them.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ""),
  );
  const parsed = schema.safeParse(cleaned);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join(".")} is invalid: ${issue.message}`);
  for (const [a, b] of pairs) {
    if (cleaned[a] && !cleaned[b])
      problems.push(`${b} is required: ${a} is set, and it needs ${b} too`);
  }
  if (cleaned.LINEAR_CLIENT_ID && !cleaned.ENCRYPTION_KEY)
    problems.push(
      "ENCRYPTION_KEY is required: LINEAR_CLIENT_ID is set, and each workspace's token is stored encrypted",
    );
  if (cleaned.NODE_ENV === "production") {
    for (const name of requiredInProduction) {
      if (!cleaned[name])
        problems.push(`${name} is required: NODE_ENV=production has no embedded default`);
    }
    if (cleaned.SANDBOX_NETWORK === "host") {
      problems.push(
        "SANDBOX_NETWORK=host is refused with NODE_ENV=production: it puts every sandbox on the host's network (use gateway)",
      );
    }
  }
  if (parsed.success && usesRemoteEngineWithoutGateway(parsed.data)) {
    problems.push(
      `SANDBOX_GATEWAY_SOURCE is required: DOCKER_HOST (${parsed.data.DOCKER_HOST}) is another machine's engine, which cannot mount this machine's GATEWAY_DIR; ` +
        "name a path or volume on the engine's host that holds the gateway's directory (the web process must run there), or use a local engine",
    );
  }
  // Unset, PUBLIC_URL is where `npm start` listens: the links it prints and the WebSocket origin follow PORT.
  if (parsed.success && !cleaned.PUBLIC_URL) parsed.data.PUBLIC_URL = listenUrl(parsed.data);
  if (parsed.success) {
    const problem = portsOriginProblem(parsed.data.PUBLIC_URL, portsPublicUrl(parsed.data));
    if (problem) problems.push(`PORTS_PUBLIC_URL is invalid: ${problem}`);
    if (parsed.data.PORTS_PORT === parsed.data.PORT && parsed.data.PORT !== 0)
      problems.push(`PORTS_PORT is invalid: it must differ from PORT (${parsed.data.PORT})`);
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
}
