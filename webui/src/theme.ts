/**
 * Theme and media-query hooks: the theme follows prefers-color-scheme until the user picks one with the toggle,
 * which is remembered in localStorage ("bitpeer-theme"). The effective theme is always on <html data-theme>.
 */
import { useEffect, useState } from 'preact/hooks';

const KEY = 'bitpeer-theme';
type Theme = 'light' | 'dark';

function stored(): Theme | undefined {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a media query matches, kept up to date. */
export function useMediaQuery(query: string): boolean {
  const [matches, setMatches] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const mq = window.matchMedia(query);
    const on = (): void => setMatches(mq.matches);
    mq.addEventListener('change', on);
    on();
    return () => mq.removeEventListener('change', on);
  }, [query]);
  return matches;
}

/** The effective theme and a toggle that switches and remembers it. */
export function useTheme(): [Theme, () => void] {
  const systemDark = useMediaQuery('(prefers-color-scheme: dark)');
  const [chosen, setChosen] = useState<Theme | undefined>(stored);
  const theme: Theme = chosen ?? (systemDark ? 'dark' : 'light');
  useEffect(() => { document.documentElement.dataset['theme'] = theme; }, [theme]);
  const toggle = (): void => {
    const next: Theme = theme === 'dark' ? 'light' : 'dark';
    setChosen(next);
    try { localStorage.setItem(KEY, next); } catch { /* private mode: not remembered */ }
  };
  return [theme, toggle];
}
