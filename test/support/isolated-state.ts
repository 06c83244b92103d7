/**
 * Vitest setup file: every test file runs with a throw-away HOME and XDG state home, so no runtime a
 * test creates in-process (nor any process it spawns with the inherited environment) ever reads or
 * appends to the user's real `~/.local/state/qfpay-mcp`. That directory is shared by every server
 * of the user: a test writing there would see other processes' records and leave its own behind.
 * npm keeps using the real cache, so installs in the packaging and client suites stay warm.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

const realHome = homedir();
const home = mkdtempSync(path.join(tmpdir(), 'qfpay-test-home-'));
process.env['npm_config_cache'] ??= path.join(realHome, '.npm');
process.env['HOME'] = home;
process.env['XDG_STATE_HOME'] = path.join(home, '.local', 'state');
delete process.env['QFPAY_STATE_DIR'];
delete process.env['QFPAY_AUDIT_LOG'];

afterAll(() => rmSync(home, { recursive: true, force: true }));
