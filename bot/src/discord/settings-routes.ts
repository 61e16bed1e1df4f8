import type { FastifyInstance, FastifyRequest } from "fastify";
import { and, eq, like } from "drizzle-orm";
import { z } from "zod";
import { badRequest, notFound, schema, type Db, type Logger } from "@tandem/core";
import type { DiscordApi, DiscordGuilds, GuildData } from "./client.ts";
import { installUrl, PROVIDER, type DiscordSettings } from "./config.ts";

export interface DiscordSettingsRouteOptions {
  settings: DiscordSettings;
  db: Db;
  logger: Logger;
  api: DiscordApi;
  guilds: DiscordGuilds;
  adminOrg(req: FastifyRequest): Promise<string>;
}

/**
 * The Discord part of Settings, for an org's owners and admins: the install link and the
 * interactions URL to paste in the developer portal, the org's servers with the role each asks
 * for, and the channels' default repositories (set with `/tandem repo:`).
 */
export function discordSettingsRoutes(app: FastifyInstance, opts: DiscordSettingsRouteOptions) {
  const ownGuild = async (req: FastifyRequest, guildId: string) => {
    const orgId = await opts.adminOrg(req);
    const row = await opts.guilds.find(guildId);
    return row && row.orgId === orgId ? row : null;
  };

  app.get("/api/discord", async (req) => {
    const orgId = await opts.adminOrg(req);
    const rows = await opts.db.query.installations.findMany({
      where: and(
        eq(schema.installations.provider, PROVIDER),
        eq(schema.installations.orgId, orgId),
      ),
    });
    const guilds = [];
    for (const row of rows) {
      const defaults = await opts.db
        .select({ key: schema.channelDefaults.channelKey, repository: schema.repositories.name })
        .from(schema.channelDefaults)
        .innerJoin(
          schema.repositories,
          eq(schema.repositories.id, schema.channelDefaults.repositoryId),
        )
        .where(
          and(
            eq(schema.channelDefaults.provider, PROVIDER),
            like(schema.channelDefaults.channelKey, `${row.externalId}/%`),
          ),
        );
      let names = new Map<string, string>();
      let problem: string | null = null;
      if (defaults.length > 0) {
        try {
          names = new Map(
            (await opts.api.guildChannels(row.externalId)).map((c) => [c.id, c.name]),
          );
        } catch (err) {
          problem = `Discord did not list this server's channels: ${(err as Error).message}`;
          opts.logger.warn({ err, guildId: row.externalId }, "discord.settings_failed");
        }
      }
      const data = row.data as GuildData;
      guilds.push({
        id: row.externalId,
        name: data.name ?? row.externalId,
        allowedRole: data.allowedRole ?? null,
        connectedAt: row.createdAt.toISOString(),
        channels: defaults.map((d) => {
          const channelId = d.key.slice(row.externalId.length + 1);
          return { id: channelId, name: names.get(channelId) ?? null, repository: d.repository };
        }),
        problem,
      });
    }
    return {
      app: {
        applicationId: opts.settings.applicationId,
        installUrl: installUrl(opts.settings.applicationId),
        interactionsUrl: opts.settings.publicKey
          ? `${opts.settings.publicUrl}/hooks/discord/interactions`
          : null,
        allowedRole: opts.settings.allowedRole ?? null,
      },
      guilds,
    };
  });

  /** Sets (or, with null, clears back to DISCORD_ALLOWED_ROLE) the role a server asks for. */
  app.put("/api/discord/guilds/:id", async (req) => {
    const { id } = req.params as { id: string };
    const row = await ownGuild(req, id);
    if (!row) throw notFound("Discord server");
    const body = z
      .object({ allowedRole: z.string().trim().min(1).max(100).nullable() })
      .strict()
      .safeParse(req.body);
    if (!body.success) throw badRequest('expected {"allowedRole": "<role name or id>"} (or null)');
    await opts.guilds.update(id, { allowedRole: body.data.allowedRole });
    return { id, allowedRole: body.data.allowedRole };
  });
}
