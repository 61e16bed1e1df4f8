/** What starting a session needs once someone has picked the repository. */
export interface PendingStart {
  teamId: string;
  channel: string;
  threadTs: string;
  prompt: string;
  user: string;
  /** The profile the request named, if any. */
  profile?: string;
}
