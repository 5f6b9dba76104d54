/**
 * The action buttons on torrents (start, pause, verify, reannounce, move, remove), in the toolbar (on every selected
 * torrent) and in the details panel (on the torrent shown). Invariant: each button acts on exactly `ids`.
 */

export interface ActionsProps {
  ids: number[];
  act(method: string, args: Record<string, unknown>): Promise<boolean>;
  onRemove(): void;
  /** Opens the move dialog for `ids`. */
  onMove(): void;
  /** Test ids are given only once per page (the toolbar's); the details panel repeats the buttons without them. */
  withTestIds?: boolean;
}

/** Start, pause, verify, reannounce, move, remove for the selected torrents. */
export function Actions({ ids, act, onRemove, onMove, withTestIds = true }: ActionsProps): preact.JSX.Element {
  const none = ids.length === 0;
  const tid = (name: string): string | undefined => (withTestIds ? name : undefined);
  return (
    <div class="actions" role="group" aria-label="Torrent actions">
      <button type="button" data-testid={tid('action-start')} disabled={none} onClick={() => void act('torrent-start', { ids })}>Start</button>
      <button type="button" data-testid={tid('action-pause')} disabled={none} onClick={() => void act('torrent-stop', { ids })}>Pause</button>
      <button type="button" data-testid={tid('action-verify')} disabled={none} onClick={() => void act('torrent-verify', { ids })}>Verify</button>
      <button type="button" data-testid={tid('action-reannounce')} disabled={none} title="Ask the trackers for peers now"
        onClick={() => void act('torrent-reannounce', { ids })}>Reannounce</button>
      <button type="button" data-testid={tid('action-move')} disabled={none} title="Set the data's folder (and move the files)"
        onClick={onMove}>Move</button>
      <button type="button" class="danger" data-testid={tid('action-remove')} disabled={none} onClick={onRemove}>Remove</button>
    </div>
  );
}
