// The transport jira-client is built on (it ships no types): the one call Tandem makes.
declare module "postman-request" {
  import type { IncomingMessage } from "node:http";

  function request(
    options: Record<string, unknown>,
    callback: (err: Error | null, res: IncomingMessage & { body?: unknown }) => void,
  ): void;
  export default request;
}
