import { z } from "zod";

export interface RouteDoc {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  url: string;
  summary: string;
  tag: string;
  body?: z.ZodType;
  query?: z.ZodType;
  responses: Record<number, string>;
  auth?: boolean;
  produces?: string;
}

/** Collects the routes as they are declared and renders them as an OpenAPI 3.1 document. */
export class OpenApiRegistry {
  private readonly docs: RouteDoc[] = [];

  add(doc: RouteDoc): void {
    this.docs.push(doc);
  }

  document(serverUrl: string) {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const doc of this.docs) {
      const url = doc.url.replace(/:(\w+)/g, "{$1}");
      const params = [...doc.url.matchAll(/:(\w+)/g)].map((m) => ({
        name: m[1],
        in: "path",
        required: true,
        schema: { type: "string" },
      }));
      const query = doc.query ? queryParams(doc.query) : [];
      const op: Record<string, unknown> = {
        summary: doc.summary,
        tags: [doc.tag],
        parameters: [...params, ...query],
        responses: Object.fromEntries(
          Object.entries(doc.responses).map(([code, description]) => [
            code,
            {
              description,
              ...(doc.produces && code.startsWith("2") ? { content: { [doc.produces]: {} } } : {}),
            },
          ]),
        ),
      };
      if (doc.auth !== false) op.security = [{ bearer: [] }];
      if (doc.body) {
        op.requestBody = {
          required: true,
          content: { "application/json": { schema: z.toJSONSchema(doc.body, { io: "input" }) } },
        };
      }
      (paths[url] ??= {})[doc.method.toLowerCase()] = op;
    }
    return {
      openapi: "3.1.0",
      info: { title: "Tandem API", version: "0.1.0" },
      servers: [{ url: serverUrl }],
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      paths,
    };
  }
}

function queryParams(schema: z.ZodType) {
  const json = z.toJSONSchema(schema, { io: "input" }) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: "query",
    required: json.required?.includes(name) ?? false,
    schema: s,
  }));
}
