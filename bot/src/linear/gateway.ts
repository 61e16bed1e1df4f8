import {
  type Config,
  carriesLink,
  isJson,
  withMarkdownLink,
  type IntegrationProvider,
  rewriteGraphqlBody,
  type MutationRule,
} from "@tandem/core";

const MUTATIONS: MutationRule[] = [
  { field: "commentCreate", create: true },
  { field: "commentUpdate" },
];

/** Linear's GraphQL API (api.linear.app/graphql) with LINEAR_API_KEY. Null without a key. */
export function linearIntegration(config: Config): IntegrationProvider | null {
  const key = config.LINEAR_API_KEY;
  if (!key) return null;
  return {
    name: "linear",
    title: "Linear",
    hosts: ["api.linear.app"],
    // A personal API key goes bare in Authorization; OAuth tokens would take "Bearer".
    credential: async () => ({ authorization: key }),
    route({ url }, link) {
      if (url.pathname !== "/graphql")
        return {
          refuse: 404,
          text: "only Linear's GraphQL API (https://api.linear.app/graphql) is served through the sandbox gateway\n",
        };
      return {
        upstream: new URL(config.LINEAR_API_URL),
        rewrite: (body, contentType) =>
          isJson(contentType)
            ? rewriteGraphqlBody(body, MUTATIONS, (text) =>
                carriesLink(text, link) ? undefined : withMarkdownLink(text, link),
              )
            : undefined,
      };
    },
  };
}
