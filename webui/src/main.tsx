/** The web UI's entry point: mounts the app into #app (index.html). */
import { render } from 'preact';
import { App } from './app.js';

const root = document.getElementById('app');
if (root) render(<App />, root);
