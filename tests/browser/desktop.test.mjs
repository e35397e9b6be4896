// Desktop smoke run under Xvfb: the window opens on the Capture screen with the
// cursor in the person field, and 300 characters typed at zero delay with xdotool
// all reach the app (read back from the autosaved draft).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { appBinary, tempDir, draft, eventually, screenshots } from './lib.mjs';

function run(cmd, args, env) {
  return execFileSync(cmd, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

test('desktop window under Xvfb opens on Capture and keeps every fast-typed character', async () => {
  // Xvfb picks a free display itself and writes its number to fd 3 once it accepts
  // connections, so neither a stale socket nor a busy display number can fool the test.
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  const data = tempDir('aftercall-desktop-');
  let app;
  let appLog = '';
  try {
    const display = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('Xvfb did not start within 15 s')), 15000);
      xvfb.stdio[3].on('data', (d) => {
        out += d;
        if (out.includes('\n')) { clearTimeout(timer); resolve(`:${out.trim()}`); }
      });
      xvfb.on('exit', (code) => { clearTimeout(timer); reject(new Error(`Xvfb exited with ${code}`)); });
    });
    const env = {
      ...process.env,
      DISPLAY: display,
      WEBKIT_DISABLE_COMPOSITING_MODE: '1',
      WEBKIT_DISABLE_DMABUF_RENDERER: '1',
      LIBGL_ALWAYS_SOFTWARE: '1',
      NO_AT_BRIDGE: '1',
      GDK_BACKEND: 'x11',
    };
    app = spawn(appBinary(), ['--data-dir', data.dir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    app.stdout.on('data', (d) => { appLog += d; });
    app.stderr.on('data', (d) => { appLog += d; });
    const win = await eventually(() => {
      try { return run('xdotool', ['search', '--onlyvisible', '--name', '^Aftercall$'], env).trim().split('\n')[0]; } catch { return null; }
    }, 60000).catch((e) => { throw new Error(`${e.message}\napp log:\n${appLog}`); });
    // Let the web view draw the first screen.
    await new Promise((r) => setTimeout(r, 5000));
    run('import', ['-window', 'root', join(screenshots, 'desktop-window-capture.png')], env);
    try { run('xdotool', ['windowfocus', '--sync', win], env); } catch { /* no window manager: focus is already there */ }

    const text = 'Quick brown fox 0123456789 jumps over the lazy dog, again and again. '.repeat(5).slice(0, 300).trimEnd() + 'z';
    assert.equal(text.length <= 301, true);
    run('xdotool', ['type', '--delay', '0', text], env);
    await eventually(() => draft(data.dir)?.person_text === text, 30000)
      .catch(() => assert.fail(`the window kept ${JSON.stringify(draft(data.dir)?.person_text)}\ninstead of ${JSON.stringify(text)}\napp log:\n${appLog}`));
    run('import', ['-window', 'root', join(screenshots, 'desktop-window-typed.png')], env);
  } finally {
    if (app && app.exitCode === null) app.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    if (app && app.exitCode === null) app.kill('SIGKILL');
    xvfb.kill('SIGTERM');
    data.cleanup();
  }
});
