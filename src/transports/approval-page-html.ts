import type { ApprovalRecord } from '../safety/approval-store.js';

/**
 * The approval page's markup and its one script. No inline script or style: the CSP allows only
 * scripts served from the page's own origin (this script and @simplewebauthn/browser's bundle).
 * Everything shown from a record is HTML-escaped; the summary was sanitised when it was built.
 */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string, data: Record<string, string>): string {
  const attributes = Object.entries(data)
    .map(([key, value]) => ` data-${key}="${escapeHtml(value)}"`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<script src="/approve/assets/webauthn.js" defer></script>
<script src="/approve/assets/page.js" defer></script>
</head>
<body${attributes}>
<h1>${escapeHtml(title)}</h1>
${body}
<p id="status" role="status" aria-live="polite"></p>
</body>
</html>
`;
}

export function registerPageHtml(): string {
  return layout(
    'Register an operator passkey',
    `<p>Only the operator of this qfpay-mcp server may register a passkey. Type the operator secret
(QFPAY_OPERATOR_SECRET, from the server's environment), then create the passkey when your device asks.
The agent never sees this page or the secret.</p>
<p><label>Operator secret <input id="secret" type="password" autocomplete="off"></label></p>
<p><button id="register" type="button">Register a passkey</button></p>`,
    { page: 'register' },
  );
}

export function approvalPageHtml(view: {
  readonly record: ApprovalRecord;
  readonly state: string;
  readonly hasPasskey: boolean;
}): string {
  const { record, state } = view;
  const pending = state === 'pending';
  const actions = pending
    ? `<p>Approving lets the agent carry out exactly this action once, before ${escapeHtml(record.expiresAt)}.
Any other amount, order or merchant needs a new approval.</p>
${view.hasPasskey ? '<p><button id="approve-passkey" type="button">Approve with my passkey</button></p>' : '<p>No passkey is registered yet (<a href="/approve/register">register one</a>); the operator secret works instead.</p>'}
<p><label>Or the operator secret <input id="secret" type="password" autocomplete="off"></label>
<button id="approve-secret" type="button">Approve with the secret</button></p>
<p><button id="decline" type="button">Decline</button></p>`
    : `<p>This approval is <strong id="state">${escapeHtml(state)}</strong>; nothing is left to decide here.</p>`;
  return layout(
    'Approve a QFPay action',
    `<pre id="summary">${escapeHtml(record.summary)}</pre>
${actions}`,
    { page: 'approve', id: record.id, state },
  );
}

/** The page's behaviour: WebAuthn through SimpleWebAuthnBrowser, JSON POSTs to this origin. */
export const APPROVAL_PAGE_SCRIPT = `'use strict';
(function () {
  const body = document.body;
  const status = document.getElementById('status');
  const show = (text) => { status.textContent = text; };
  async function post(path, payload) {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload || {}),
    });
    const answer = await response.json().catch(() => ({ ok: false, message: 'Unexpected answer.' }));
    if (!answer.ok) throw new Error(answer.message || 'Refused.');
    return answer;
  }
  const secret = () => (document.getElementById('secret') || { value: '' }).value;
  function on(id, action) {
    const button = document.getElementById(id);
    if (!button) return;
    button.addEventListener('click', async () => {
      button.disabled = true;
      try { show((await action()).message); } catch (error) { show('Not done: ' + error.message); }
      finally { button.disabled = false; }
    });
  }
  const webauthn = window.SimpleWebAuthnBrowser;
  if (body.dataset.page === 'register') {
    on('register', async () => {
      const start = await post('/approve/register/options', { secret: secret() });
      const response = await webauthn.startRegistration({ optionsJSON: start.options });
      return post('/approve/register/verify', { flow: start.flow, response });
    });
  }
  if (body.dataset.page === 'approve') {
    const base = '/approve/' + body.dataset.id;
    on('approve-passkey', async () => {
      const start = await post(base + '/passkey/options');
      const response = await webauthn.startAuthentication({ optionsJSON: start.options });
      return post(base + '/passkey/verify', { flow: start.flow, response });
    });
    on('approve-secret', () => post(base + '/secret', { secret: secret() }));
    on('decline', () => post(base + '/decline'));
  }
})();
`;
