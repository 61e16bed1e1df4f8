import {
  addMessage,
  AppError,
  channelDefault,
  chooseRepository,
  clip,
  createSession,
  findBoundSession,
  isTerminal,
  listRepositories,
  outboundRecord,
  repositoryNamed,
  resolveSessionProfileOrThrow,
  savePendingStart,
  schema,
  sessionUrl,
  setChannelDefault,
  stopSession,
  takePendingStart,
  takeProfile,
  type InboundEvent,
  type Logger,
  type Repository,
  type SessionDeps,
} from "@tandem/core";
import { and, eq } from "drizzle-orm";
import {
  DiscordCallError,
  isThread,
  type DiscordApi,
  type DiscordGuilds,
  type GuildData,
} from "./client.ts";
import { PROVIDER, threadKey, type DiscordSettings } from "./config.ts";
import { EPHEMERAL, notice, repositoryMenu, sessionButtons } from "./messages.ts";
import { REQUESTER } from "./outbound.ts";
import type { DiscordOutbox } from "./outbox.ts";
import {
  asksToStop,
  threadName,
  toTrigger,
  type Actor,
  type DiscordTrigger,
} from "./trigger-source.ts";

export interface DiscordRouterDeps extends SessionDeps {
  settings: DiscordSettings;
  api: DiscordApi;
  guilds: DiscordGuilds;
  outbox: DiscordOutbox;
}

type Guild = Awaited<ReturnType<DiscordGuilds["ensure"]>>;
type Message = Extract<DiscordTrigger, { type: "message" }>;
type Command = Extract<DiscordTrigger, { type: "command" }>;
type Press = Extract<DiscordTrigger, { type: "stop" | "pick" }>;

/** How long the repository menu waits for a pick. */
const PICK_TTL_MS = 24 * 60 * 60_000;
const ADMINISTRATOR = 1n << 3n;
const MANAGE_GUILD = 1n << 5n;

/** A request waiting for its repository. */
interface PendingStart {
  guildId: string;
  threadId: string;
  prompt: string;
  requester: string;
  profile?: string;
}

/** Where a reply to a trigger goes: ephemeral for interactions, a reply in the channel for messages. */
type Answer = (text: string) => Promise<void>;

/**
 * The `discord` inbound handler (worker): a mention or `/tandem` becomes a session in a thread
 * of its own (or a question about the repository), a message in a session's thread a follow-up,
 * Stop or "stop" stops it, a pick from the menu starts the waiting request. Members without the
 * allowed role are told so.
 */
export function createDiscordRouter(deps: DiscordRouterDeps) {
  return async (event: InboundEvent, log: Logger): Promise<void> => {
    const t = toTrigger(event.payload);
    if (t.type === "ignore") return log.debug({ reason: t.reason }, "discord.ignored");
    const guild = await deps.guilds.ensure(t.guildId);
    const glog = log.child({ guildId: t.guildId, orgId: guild.orgId });
    const interaction = (action: "edit" | "followup", text: string, token: string) =>
      deps.outbox.send(
        {
          op: "interaction",
          token,
          action,
          message: { ...notice(text), ...(action === "followup" ? { flags: EPHEMERAL } : {}) },
        },
        `answer-${action}-${event.id}`,
      );
    // A message is answered in its channel; the command in its own response; a button privately.
    const answer: Answer =
      t.type === "message"
        ? (text) =>
            deps.outbox.send(
              {
                op: "post",
                channelId: t.channelId,
                message: notice(text, [t.author.id]),
                replyTo: t.messageId,
              },
              `answer-${event.id}`,
            )
        : (text) => interaction(t.type === "command" ? "edit" : "followup", text, t.token);
    try {
      const actor = t.type === "message" ? t.author : t.user;
      const refused = await refusal(deps, guild, actor);
      if (refused) {
        glog.info({ userId: actor.id }, "discord.refused");
        if (t.type === "message" && !t.mentionsBot) return; // talk in a thread, not a request
        // The command's response is public once it has a prompt: only the person sees why not.
        if (t.type === "command" && t.prompt) {
          await deps.api.deleteOriginal(t.token).catch(() => {});
          return await interaction("followup", refused, t.token);
        }
        return await answer(refused);
      }
      switch (t.type) {
        case "message":
          return await onMessage(deps, guild, t, answer, event.id, glog);
        case "command":
          return await onCommand(deps, guild, t, event.id, glog);
        case "stop":
          return await onStop(deps, guild, t, answer, glog);
        case "pick":
          return await onPick(deps, guild, t, answer, glog);
      }
    } catch (err) {
      // Discord refused the bot (no permission to open a thread or post here): say so, once.
      if (err instanceof DiscordCallError && err.status === 403) {
        glog.warn({ err }, "discord.missing_permissions");
        return await answer(
          `I can't work in this channel: Discord refused (${err.message}). A server admin can give me View Channel, Send Messages, Create Public Threads and Send Messages in Threads here.`,
        );
      }
      // A request Tandem cannot do (4xx: an unknown profile) is answered; anything else is retried.
      if (!(err instanceof AppError) || err.status >= 500 || err.code === "retry_later") throw err;
      glog.info({ err }, "discord.request_refused");
      await answer(`⚠️ That did not work: ${err.message}.`);
    }
  };
}

/** The role a guild asks for (its own, else DISCORD_ALLOWED_ROLE), if any. */
const roleOf = (deps: DiscordRouterDeps, guild: Guild) =>
  (guild.data as GuildData).allowedRole || deps.settings.allowedRole || null;

async function hasRole(deps: DiscordRouterDeps, guildId: string, role: string, actor: Actor) {
  if (actor.roles.includes(role)) return true;
  const roles = await deps.api.guildRoles(guildId);
  const named = roles.find((r) => r.name.toLowerCase() === role.toLowerCase());
  return named !== undefined && actor.roles.includes(named.id);
}

/** Why `actor` may not use Tandem in this guild, or null when they may. */
async function refusal(deps: DiscordRouterDeps, guild: Guild, actor: Actor) {
  const role = roleOf(deps, guild);
  if (!role) return null;
  if (actor.permissions !== null && (actor.permissions & ADMINISTRATOR) !== 0n) return null;
  if (await hasRole(deps, guild.externalId, role, actor)) return null;
  const name = /^\d+$/.test(role)
    ? ((await deps.api.guildRoles(guild.externalId)).find((r) => r.id === role)?.name ?? role)
    : role;
  return `You need the **${name}** role to use Tandem here.`;
}

async function onMessage(
  deps: DiscordRouterDeps,
  guild: Guild,
  m: Message,
  answer: Answer,
  eventId: string,
  log: Logger,
) {
  const key = threadKey(m.guildId, m.channelId);
  const bound = await findBoundSession(deps.db, PROVIDER, key);
  if (!bound && !m.mentionsBot) return;
  const live = bound && !isTerminal(bound.status) ? bound : null;
  if (bound && asksToStop(m.text)) {
    if (!live) return answer("Nothing is running in this thread to stop.");
    await stopSession(deps, live.orgId, live.id, `stopped from Discord by ${m.author.name}`);
    await deps.outbox.statusNow(live.id, `stop-${m.messageId}`);
    return log.info({ sessionId: live.id }, "discord.stopped");
  }
  const acknowledge = () =>
    deps.outbox.send(
      { op: "react", channelId: m.channelId, messageId: m.messageId, emoji: "👀" },
      m.messageId,
    );
  if (live) {
    if (!m.text) return;
    await acknowledge();
    await addMessage(deps, {
      orgId: live.orgId,
      sessionId: live.id,
      text: m.text,
      source: PROVIDER,
    });
    await deps.outbox.statusNow(live.id, `follow-${m.messageId}`);
    return log.info({ sessionId: live.id }, "discord.follow_up");
  }
  if (bound && !m.mentionsBot)
    return answer(
      `This session has ${bound.status === "failed" ? "failed" : "ended"}. Mention me to start a new one here.`,
    );
  const { profile, text } = takeProfile(m.text);
  if (!text)
    return answer(
      "What should I work on? Mention me with a request, e.g. _fix the flaky login test in acme/app_.",
    );
  await acknowledge();
  const channel = await deps.api.channel(m.channelId);
  // A mention inside a thread works in that thread (threads do not nest); elsewhere, a new one.
  const threadId = isThread(channel)
    ? channel.id
    : await deps.api.startThread(channel.id, m.messageId, threadName(text));
  const answerInThread = (message: string) =>
    deps.outbox.send(
      { op: "post", channelId: threadId, message: notice(message) },
      `notice-${eventId}`,
    );
  await startOrAsk(
    deps,
    guild,
    {
      guildId: m.guildId,
      threadId,
      prompt: text,
      requester: m.author.id,
      ...(profile ? { profile } : {}),
    },
    { channelKey: channel.parentId ?? channel.id, say: answerInThread, eventId },
    log,
  );
}

async function onCommand(
  deps: DiscordRouterDeps,
  guild: Guild,
  c: Command,
  eventId: string,
  log: Logger,
) {
  const edit = (message: string, components: unknown[] = []) =>
    deps.api.editOriginal(c.token, { ...notice(message), components });
  const channel = await deps.api.channel(c.channelId);
  const channelKey = channel.parentId && isThread(channel) ? channel.parentId : channel.id;
  if (!c.prompt) return void (await repoCommand(deps, guild, c, channelKey, edit));
  const key = threadKey(c.guildId, channel.id);
  const bound = isThread(channel) ? await findBoundSession(deps.db, PROVIDER, key) : null;
  if (bound && !isTerminal(bound.status)) {
    await addMessage(deps, {
      orgId: bound.orgId,
      sessionId: bound.id,
      text: c.prompt,
      source: PROVIDER,
    });
    await deps.outbox.statusNow(bound.id, `follow-${c.interactionId}`);
    const url = sessionUrl(deps.publicUrl, bound.id);
    await edit(
      `Passed on to the session:\n> ${clip(c.prompt.split("\n")[0]!, 300)}`,
      sessionButtons(url, bound.id, false),
    );
    return log.info({ sessionId: bound.id }, "discord.follow_up");
  }
  // The command's answer becomes the thread's first message: "<who> asked: …".
  const asked = `<@${c.user.id}> asked: ${clip(c.prompt.split("\n")[0]!, 300)}`;
  const originalId = await edit(asked);
  const threadId = isThread(channel)
    ? channel.id
    : await deps.api.startThread(channel.id, originalId, threadName(c.prompt));
  const say = (message: string) =>
    deps.outbox.send(
      { op: "post", channelId: threadId, message: notice(message) },
      `notice-${eventId}`,
    );
  const session = await startOrAsk(
    deps,
    guild,
    {
      guildId: c.guildId,
      threadId,
      prompt: c.repo ? `${c.prompt}\n\n(Repository: ${c.repo})` : c.prompt,
      requester: c.user.id,
      ...(c.profile ? { profile: c.profile } : {}),
    },
    { channelKey, say, eventId, named: c.repo },
    log,
  );
  if (session) {
    const url = sessionUrl(deps.publicUrl, session.id);
    await deps.outbox.send(
      {
        op: "interaction",
        token: c.token,
        action: "edit",
        message: {
          ...notice(`${asked}\n🧵 Working on it in <#${threadId}> · [View session](<${url}>)`),
          components: sessionButtons(url, session.id, false),
        },
      },
      `started-${c.interactionId}`,
    );
  }
}

/** `/tandem repo:<owner/name>` (no prompt): shows or sets the channel's default repository. */
async function repoCommand(
  deps: DiscordRouterDeps,
  guild: Guild,
  c: Command,
  channelKey: string,
  edit: (message: string) => Promise<string>,
) {
  const key = threadKey(c.guildId, channelKey);
  if (!c.repo) {
    const current = await channelDefault(deps.db, PROVIDER, guild.orgId, key);
    return edit(
      current
        ? `Sessions started in <#${channelKey}> work in \`${current.name}\` unless a request names another. Change it with \`/tandem repo:owner/name\`.`
        : "This channel has no repository of its own. Set one with `/tandem repo:owner/name`, or start a session with `/tandem prompt:…`.",
    );
  }
  if (["none", "clear", "-"].includes(c.repo.toLowerCase())) {
    await setChannelDefault(deps.db, deps.clock, {
      provider: PROVIDER,
      orgId: guild.orgId,
      channelKey: key,
      repo: null,
    });
    return edit(`<#${channelKey}> no longer has a repository of its own.`);
  }
  const { name, repo } = await repositoryNamed(deps.db, guild.orgId, c.repo);
  if (!repo) {
    const known = (await listRepositories(deps.db, guild.orgId)).map((r) => `\`${r.name}\``);
    return edit(
      `I don't know the repository \`${name}\`. ${known.length ? `Registered: ${known.join(", ")}.` : "No repositories are registered yet."}`,
    );
  }
  await setChannelDefault(deps.db, deps.clock, {
    provider: PROVIDER,
    orgId: guild.orgId,
    channelKey: key,
    repo,
  });
  return edit(`Sessions started in <#${channelKey}> will work in \`${repo.name}\`.`);
}

/** Starts the request with its repository, or asks for it with a menu in the thread. */
async function startOrAsk(
  deps: DiscordRouterDeps,
  guild: Guild,
  req: PendingStart,
  where: {
    channelKey: string;
    say: (text: string) => Promise<void>;
    eventId: string;
    named?: string;
  },
  log: Logger,
) {
  // Before any menu: a profile that cannot start a session is said at once (409/404).
  await resolveSessionProfileOrThrow(deps.db, guild.orgId, req.profile, PROVIDER);
  const choice = await chooseRepository(deps.db, {
    provider: PROVIDER,
    orgId: guild.orgId,
    text: where.named ?? req.prompt,
    channelKey: threadKey(req.guildId, where.channelKey),
  });
  switch (choice.kind) {
    case "repo":
      return startSession(deps, guild, req, choice.repo, log);
    case "none":
      await where.say(
        `No repositories are registered in Tandem yet. Add one at ${deps.publicUrl}, then mention me again.`,
      );
      return null;
    case "unknown":
    case "choose": {
      const pending = await savePendingStart<PendingStart>(deps.db, deps.clock, {
        provider: PROVIDER,
        orgId: guild.orgId,
        threadKey: threadKey(req.guildId, req.threadId),
        payload: req,
        ttlMs: PICK_TTL_MS,
      });
      const names = choice.repos.map((r) => r.name);
      const lead =
        choice.kind === "unknown" ? `\`${choice.named}\` is not registered in Tandem. ` : "";
      const more =
        names.length > 25
          ? ` (the first 25 of ${names.length}; or mention me with owner/name)`
          : "";
      await deps.outbox.send(
        {
          op: "post",
          channelId: req.threadId,
          message: {
            ...notice(`${lead}Which repository should I work in?${more}`),
            components: repositoryMenu(pending.id, names),
          },
        },
        `picker-${pending.id}`,
      );
      log.info({ candidates: names.length }, "discord.ask_repository");
      return null;
    }
  }
}

async function startSession(
  deps: DiscordRouterDeps,
  guild: Guild,
  req: PendingStart,
  repo: Pick<Repository, "name">,
  log: Logger,
) {
  const key = threadKey(req.guildId, req.threadId);
  const session = await createSession(deps, {
    orgId: guild.orgId,
    repository: repo.name,
    prompt: req.prompt,
    source: PROVIDER,
    profile: req.profile,
    binding: {
      provider: PROVIDER,
      threadKey: key,
      url: `https://discord.com/channels/${req.guildId}/${req.threadId}`,
    },
  });
  await outboundRecord.remember(
    deps.db,
    deps.clock,
    { sessionId: session.id, provider: PROVIDER, kind: REQUESTER, target: key },
    req.requester,
  );
  await deps.outbox.statusNow(session.id, "start");
  log.info({ sessionId: session.id, repository: repo.name }, "discord.session_started");
  return session;
}

/** Stop: the requester, a member with the allowed role, or the server's managers may press it. */
async function onStop(
  deps: DiscordRouterDeps,
  guild: Guild,
  p: Press,
  answer: Answer,
  log: Logger,
) {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const session = uuid.test(p.target)
    ? await deps.db.query.sessions.findFirst({
        where: and(eq(schema.sessions.id, p.target), eq(schema.sessions.orgId, guild.orgId)),
      })
    : undefined;
  if (!session) return answer("I don't know this session.");
  if (isTerminal(session.status)) return answer("This session has already ended.");
  const key = threadKey(p.guildId, p.channelId);
  const requester = await outboundRecord.find(deps.db, {
    sessionId: session.id,
    provider: PROVIDER,
    kind: REQUESTER,
    target: key,
  });
  const role = roleOf(deps, guild);
  const manager =
    p.user.permissions !== null && (p.user.permissions & (ADMINISTRATOR | MANAGE_GUILD)) !== 0n;
  const may =
    requester?.externalId === p.user.id ||
    manager ||
    (role !== null && (await hasRole(deps, p.guildId, role, p.user)));
  if (!may) {
    log.info({ sessionId: session.id, userId: p.user.id }, "discord.stop_refused");
    return answer(
      `Only the person who started this session${role ? ` or someone with the **${role}** role` : ""} can stop it.`,
    );
  }
  await stopSession(deps, guild.orgId, session.id, `stopped from Discord by ${p.user.name}`);
  await deps.outbox.statusNow(session.id, `stop-${p.token.slice(0, 16)}`);
  await deps.outbox.send(
    {
      op: "post",
      channelId: p.channelId,
      message: notice(`⏹️ Stopped by <@${p.user.id}>.`),
    },
    `stopped-${session.id}`,
  );
  log.info({ sessionId: session.id }, "discord.stopped");
}

/** A pick from the repository menu: the waiting request starts there (once). */
async function onPick(
  deps: DiscordRouterDeps,
  guild: Guild,
  p: Press,
  answer: Answer,
  log: Logger,
) {
  const pending = await takePendingStart<PendingStart>(deps.db, deps.clock, {
    provider: PROVIDER,
    orgId: guild.orgId,
    id: p.target,
  });
  const edit = (text: string) =>
    deps.api.editOriginal(p.token, { ...notice(text), components: [] });
  if (pending === "gone") return answer("This request has already started, or is gone.");
  if (pending === "expired")
    return void (await edit(
      "This request expired (the menu waits a day). Mention me again to start.",
    ));
  const repo = await deps.db.query.repositories.findFirst({
    where: and(
      eq(schema.repositories.orgId, guild.orgId),
      eq(schema.repositories.name, p.value ?? ""),
    ),
  });
  if (!repo) {
    await edit(
      `The repository \`${p.value ?? ""}\` is no longer registered. Mention me again to start.`,
    );
    return;
  }
  await edit(`Working in \`${repo.name}\`, picked by <@${p.user.id}>.`);
  await startSession(deps, guild, pending, repo, log);
}
