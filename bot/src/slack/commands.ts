import { channelDefault, listRepositories, repositoryNamed, setChannelDefault } from "@tandem/core";
import { noticeMessage } from "./blocks.ts";
import type { SlackTeam } from "./client.ts";
import { channelKey, PROVIDER, SLASH_COMMAND } from "./config.ts";
import type { StartDeps } from "./start.ts";
import type { SlackTrigger } from "./trigger-source.ts";

type Command = Extract<SlackTrigger, { type: "command" }>;

const HELP = [
  `*${SLASH_COMMAND} repo owner/repo*: sessions started in this channel work in that repository (unless a message names another)`,
  `*${SLASH_COMMAND} repo*: show this channel's repository · *${SLASH_COMMAND} repo none*: forget it`,
  "Mention me in a thread with a request to start a session; reply in the thread to continue it.",
].join("\n");

/** `/tandem …`; the answer is ephemeral, for the person who typed it. */
export async function runCommand(
  deps: StartDeps,
  team: SlackTeam,
  c: Command,
  deliveryId: string,
): Promise<void> {
  const answer = (text: string) =>
    deps.outbox.send(
      {
        op: "post",
        teamId: team.teamId,
        channel: c.channel,
        ephemeralUser: c.user,
        message: noticeMessage(text),
      },
      `command-${deliveryId}`,
    );
  const [sub, arg] = c.text.split(/\s+/);
  if (sub?.toLowerCase() !== "repo") return answer(HELP);
  const key = channelKey(team.teamId, c.channel);
  if (!arg) {
    const current = await channelDefault(deps.db, PROVIDER, team.orgId, key);
    return answer(
      current
        ? `This channel works in \`${current.name}\`. Change it with \`${SLASH_COMMAND} repo owner/repo\`.`
        : `This channel has no repository of its own. Set one with \`${SLASH_COMMAND} repo owner/repo\`.`,
    );
  }
  if (["none", "clear", "-"].includes(arg.toLowerCase())) {
    await setChannelDefault(deps.db, deps.clock, {
      provider: PROVIDER,
      orgId: team.orgId,
      channelKey: key,
      repo: null,
    });
    return answer("This channel no longer has a repository of its own.");
  }
  const { name, repo } = await repositoryNamed(deps.db, team.orgId, arg);
  if (!repo) {
    const known = (await listRepositories(deps.db, team.orgId)).map((r) => `\`${r.name}\``);
    return answer(
      `I don't know the repository \`${name}\`. ${known.length ? `Registered: ${known.join(", ")}.` : "No repositories are registered yet."}`,
    );
  }
  await setChannelDefault(deps.db, deps.clock, {
    provider: PROVIDER,
    orgId: team.orgId,
    channelKey: key,
    repo,
  });
  return answer(`Sessions started in this channel will work in \`${repo.name}\`.`);
}
