/** The action buttons on a torrent (start, pause, verify, remove), in the toolbar and in the details panel. */

export interface ActionsProps {
  ids: number[];
  act(method: string, args: Record<string, unknown>): Promise<boolean>;
  onRemove(): void;
  /** Test ids are given only once per page (the toolbar's); the details panel repeats the buttons without them. */
  withTestIds?: boolean;
}

/** Start, pause, verify, remove for the selected torrent. */
export function Actions({ ids, act, onRemove, withTestIds = true }: ActionsProps): preact.JSX.Element {
  const none = ids.length === 0;
  const tid = (name: string): string | undefined => (withTestIds ? name : undefined);
  return (
    <div class="actions" role="group" aria-label="Torrent actions">
      <button type="button" data-testid={tid('action-start')} disabled={none} onClick={() => void act('torrent-start', { ids })}>Start</button>
      <button type="button" data-testid={tid('action-pause')} disabled={none} onClick={() => void act('torrent-stop', { ids })}>Pause</button>
      <button type="button" data-testid={tid('action-verify')} disabled={none} onClick={() => void act('torrent-verify', { ids })}>Verify</button>
      <button type="button" class="danger" data-testid={tid('action-remove')} disabled={none} onClick={onRemove}>Remove</button>
    </div>
  );
}
