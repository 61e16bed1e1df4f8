import { spawnSync } from "node:child_process";
import { schema } from "@tandem/core";
import { until, type Stack } from "./stack.ts";

/** `GET /api/profiles/:name` as the owner. */
export const profileView = async (s: Stack, name: string) =>
  (await s.owner.request("GET", `/api/profiles/${name}`)).body;

/** Polls the API until the newest published version's newest snapshot has finished (ready or failed). */
export const finishedSnapshot = (s: Stack, name: string, timeoutMs = 90_000) =>
  until(
    `the ${name} snapshot`,
    async () => {
      const snapshot = (await profileView(s, name)).published[0]?.snapshot;
      return snapshot && (snapshot.status === "ready" || snapshot.status === "failed")
        ? snapshot
        : null;
    },
    timeoutMs,
  );

/** The snapshot images the stack's database knows, read before it closes, to remove after. */
export async function snapshotImageRefs(s: Stack | undefined): Promise<string[]> {
  if (!s) return [];
  const rows = await s.rt.database.db
    .select({ imageRef: schema.snapshots.imageRef })
    .from(schema.snapshots);
  return rows.map((r) => r.imageRef).filter((r): r is string => !!r);
}

/** Tests leave no images behind on the shared engine. */
export function removeImages(refs: string[]): void {
  if (refs.length) spawnSync("docker", ["rmi", "-f", ...refs], { stdio: "ignore" });
}
