import { DiscordAPIError, RateLimitError, REST, Routes } from "discord.js";
import { and, eq } from "drizzle-orm";
import {
  installForDefaultOrg,
  RetryLaterError,
  schema,
  UnrecoverableError,
  type Db,
} from "@tandem/core";
import { COMMAND, PROVIDER, type DiscordSettings } from "./config.ts";
import type { DiscordMessage } from "./messages.ts";

/** Discord's error code when a message already has a thread (its id is the thread's). */
const THREAD_EXISTS = 160004;

/** A failure as the queues handle it: wait (rate limit), give up (refused), or retry. */
function classify(err: unknown): Error {
  if (err instanceof RateLimitError)
    return new RetryLaterError(
      Math.max(1, err.retryAfter),
      `Discord asked Tandem to slow down (${err.global ? "global" : err.route})`,
    );
  if (err instanceof DiscordAPIError) {
    if (err.status === 401) return new UnrecoverableError(`Discord refused the bot's token`);
    if (err.status >= 400 && err.status < 500)
      return new DiscordCallError(err.status, Number(err.code), err.message);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** A request Discord refused (4xx): retrying it as is would not help. */
export class DiscordCallError extends UnrecoverableError {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(`Discord answered ${status}: ${message}`);
    this.name = "DiscordCallError";
  }
}

async function discordCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw classify(err);
  }
}

/** A channel as Tandem needs it: whether it is a thread, and where threads of it belong. */
export interface ChannelInfo {
  id: string;
  type: number;
  parentId: string | null;
  name: string;
}

const THREAD_TYPES = new Set([10, 11, 12]);
export const isThread = (c: ChannelInfo) => THREAD_TYPES.has(c.type);

interface ApiMessage {
  id: string;
  channel_id: string;
}

/**
 * The bot's REST calls (discord.js's REST client, pointed at DISCORD_API_URL). A rate limit is
 * not waited out in-process: it comes back as RetryLaterError, so the queue delays the job.
 */
export class DiscordApi {
  readonly rest: REST;
  private readonly roles = new Map<
    string,
    { at: number; roles: Array<{ id: string; name: string }> }
  >();

  constructor(private readonly settings: DiscordSettings) {
    this.rest = new REST({
      api: settings.apiUrl,
      rejectOnRateLimit: () => true,
      timeout: 15_000,
    }).setToken(settings.token);
  }

  async channel(id: string): Promise<ChannelInfo> {
    const c = (await discordCall(() => this.rest.get(Routes.channel(id)))) as {
      id: string;
      type: number;
      parent_id?: string | null;
      name?: string;
    };
    return { id: c.id, type: c.type, parentId: c.parent_id ?? null, name: c.name ?? "" };
  }

  /** A public thread on a message; its id is the message's, so a retry finds the one it made. */
  async startThread(channelId: string, messageId: string, name: string): Promise<string> {
    try {
      await discordCall(() =>
        this.rest.post(Routes.threads(channelId, messageId), {
          body: { name, auto_archive_duration: 10080 },
        }),
      );
    } catch (err) {
      if (!(err instanceof DiscordCallError && err.code === THREAD_EXISTS)) throw err;
    }
    return messageId;
  }

  async post(channelId: string, message: DiscordMessage, replyTo?: string): Promise<string> {
    const sent = (await discordCall(() =>
      this.rest.post(Routes.channelMessages(channelId), {
        body: {
          ...message,
          ...(replyTo
            ? { message_reference: { message_id: replyTo, fail_if_not_exists: false } }
            : {}),
        },
      }),
    )) as ApiMessage;
    return sent.id;
  }

  async edit(
    channelId: string,
    messageId: string,
    message: Partial<DiscordMessage>,
  ): Promise<void> {
    await discordCall(() =>
      this.rest.patch(Routes.channelMessage(channelId, messageId), { body: message }),
    );
  }

  async react(channelId: string, messageId: string, emoji: string): Promise<void> {
    await discordCall(() =>
      this.rest.put(
        Routes.channelMessageOwnReaction(channelId, messageId, encodeURIComponent(emoji)),
      ),
    );
  }

  /** Edits an interaction's first response (or, for a button, the message it is on); its message id. */
  async editOriginal(token: string, message: Partial<DiscordMessage>): Promise<string> {
    const sent = (await discordCall(() =>
      this.rest.patch(Routes.webhookMessage(this.settings.applicationId, token), {
        body: message,
        auth: false,
      }),
    )) as ApiMessage;
    return sent.id;
  }

  async deleteOriginal(token: string): Promise<void> {
    await discordCall(() =>
      this.rest.delete(Routes.webhookMessage(this.settings.applicationId, token), { auth: false }),
    );
  }

  /** A follow-up message to an interaction (ephemeral when its flags say so). */
  async followUp(token: string, message: DiscordMessage): Promise<void> {
    await discordCall(() =>
      this.rest.post(Routes.webhook(this.settings.applicationId, token), {
        body: message,
        auth: false,
      }),
    );
  }

  /** The guild's roles, kept a minute: a role named in settings is matched by name or id. */
  async guildRoles(guildId: string): Promise<Array<{ id: string; name: string }>> {
    const cached = this.roles.get(guildId);
    if (cached && Date.now() - cached.at < 60_000) return cached.roles;
    const roles = (await discordCall(() => this.rest.get(Routes.guildRoles(guildId)))) as Array<{
      id: string;
      name: string;
    }>;
    this.roles.set(guildId, { at: Date.now(), roles });
    return roles;
  }

  /** The guild's channels (for Settings to name them). */
  async guildChannels(guildId: string): Promise<Array<{ id: string; name: string }>> {
    return (await discordCall(() => this.rest.get(Routes.guildChannels(guildId)))) as Array<{
      id: string;
      name: string;
    }>;
  }

  /** Registers `/tandem` (a global command; overwriting it is idempotent). */
  async registerCommands(): Promise<void> {
    await discordCall(() =>
      this.rest.put(Routes.applicationCommands(this.settings.applicationId), {
        body: [TANDEM_COMMAND],
      }),
    );
  }
}

/**
 * `/tandem prompt:<text> [repo:<owner/name>] [profile:<name>]`. Discord does not let a command
 * take options and have subcommands at once, so `/tandem repo:<owner/name>` without a prompt is
 * the "repo" form: it sets the channel's default repository.
 */
const TANDEM_COMMAND = {
  name: COMMAND,
  type: 1,
  description:
    "Ask the coding agent to work on something (or, with only repo:, set this channel's repository)",
  contexts: [0],
  options: [
    {
      type: 3,
      name: "prompt",
      description: "What the agent should do",
      required: false,
      max_length: 4000,
    },
    {
      type: 3,
      name: "repo",
      description: "The repository (owner/name); alone, it becomes this channel's default",
      required: false,
      max_length: 200,
    },
    {
      type: 3,
      name: "profile",
      description: "The sandbox profile (the organization's default otherwise)",
      required: false,
      max_length: 100,
    },
  ],
};

/** What a guild's installation row keeps. */
export interface GuildData {
  name?: string;
  /** The role (name or id) members need here; unset: DISCORD_ALLOWED_ROLE. */
  allowedRole?: string | null;
}

/**
 * The guilds the bot is in, each bound to an org by its installation row: recorded for the
 * default org the first time Tandem sees the guild (the gateway's GUILD_CREATE, or a request).
 */
export class DiscordGuilds {
  constructor(private readonly deps: { db: Db; defaultOrgName: string }) {}

  find(guildId: string) {
    return this.deps.db.query.installations.findFirst({
      where: and(
        eq(schema.installations.provider, PROVIDER),
        eq(schema.installations.externalId, guildId),
      ),
    });
  }

  async ensure(guildId: string, name?: string) {
    const found = await this.find(guildId);
    if (found) {
      const data = found.data as GuildData;
      if (name && data.name !== name) await this.update(guildId, { name });
      return found;
    }
    return installForDefaultOrg(this.deps.db, this.deps.defaultOrgName, {
      provider: PROVIDER,
      externalId: guildId,
      data: (name ? { name } : {}) satisfies GuildData,
    });
  }

  /** Merges `patch` into the guild's data. */
  async update(guildId: string, patch: GuildData): Promise<void> {
    const row = await this.find(guildId);
    if (!row) return;
    await this.deps.db
      .update(schema.installations)
      .set({ data: { ...(row.data as GuildData), ...patch } })
      .where(eq(schema.installations.id, row.id));
  }
}
