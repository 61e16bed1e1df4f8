import type { FastifyRequest } from "fastify";
import type { z } from "zod";
import { badRequest, type Logger } from "@tandem/core";

/** Validates input with a zod schema; the 400 names every field that is wrong. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where = "body"): z.infer<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => {
    if (i.code === "unrecognized_keys")
      return `unknown field${i.keys.length > 1 ? "s" : ""} ${i.keys.join(", ")}`;
    return i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message;
  });
  throw badRequest(`invalid ${where}: ${problems.join("; ")}`);
}

/** The request's child logger (carrying the request id), typed as the core logger. */
export const requestLogger = (req: FastifyRequest, fields: Record<string, string> = {}) =>
  req.log.child(fields) as unknown as Logger;
