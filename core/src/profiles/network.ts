import { z } from "zod";

/**
 * Where a sandbox's traffic may go, through the gateway's egress proxy. `none`: nowhere but the
 * gateway's own services and the integrations the version exposes; `allowlist`: also the hosts
 * in `allow` (`registry.npmjs.org`, `*.pypi.org`); `open`: anywhere public.
 */
const EGRESS_MODES = ["none", "allowlist", "open"] as const;

const hostPattern = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, {
    error:
      "allow entries are host names, optionally starting with *. (e.g. registry.npmjs.org, *.pypi.org)",
  });

export const networkPolicy = z.strictObject({
  egress: z.enum(EGRESS_MODES).default("none"),
  allow: z.array(hostPattern).max(200).default([]),
});
export type NetworkPolicy = z.infer<typeof networkPolicy>;

export const DEFAULT_NETWORK_POLICY: NetworkPolicy = { egress: "none", allow: [] };
