import type { Language } from '../qfpay/language.js';
import type { ApprovalRecord } from '../safety/approval-store.js';
import { PAGE_WORDS, type PageWords } from './approval-page-words.js';

/**
 * The approval page's markup and its one script. No inline script or style: the CSP allows only
 * scripts served from the page's own origin (this script and @simplewebauthn/browser's bundle).
 * Everything shown from a record is HTML-escaped; the summary was sanitised when it was built.
 */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(language: Language, title: string, body: string, data: Record<string, string>): string {
  const words = PAGE_WORDS[language];
  // The script's own few words travel as data attributes: it has no table of its own.
  const attributes = Object.entries({
    ...data,
    'not-done': words.notDone,
    unexpected: words.unexpectedAnswer,
    refused: words.refused,
  })
    .map(([key, value]) => ` data-${key}="${escapeHtml(value)}"`)
    .join('');
  return `<!doctype html>
<html lang="${language}">
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

export function registerPageHtml(language: Language): string {
  const words = PAGE_WORDS[language];
  return layout(
    language,
    words.registerTitle,
    `<p>${escapeHtml(words.registerIntro)}</p>
<p><label>${escapeHtml(words.operatorSecret)} <input id="secret" type="password" autocomplete="off"></label></p>
<p><button id="register" type="button">${escapeHtml(words.registerButton)}</button></p>`,
    { page: 'register' },
  );
}

export function approvalPageHtml(view: {
  readonly record: ApprovalRecord;
  readonly state: keyof PageWords['states'];
  readonly hasPasskey: boolean;
  readonly language: Language;
}): string {
  const { record, state, language } = view;
  const words = PAGE_WORDS[language];
  const [before, link, after] = words.noPasskey;
  const actions =
    state === 'pending'
      ? `<p>${escapeHtml(words.approvingLets(record.expiresAt))}</p>
${view.hasPasskey ? `<p><button id="approve-passkey" type="button">${escapeHtml(words.approveWithPasskey)}</button></p>` : `<p>${escapeHtml(before)}<a href="/approve/register">${escapeHtml(link)}</a>${escapeHtml(after)}</p>`}
<p><label>${escapeHtml(words.orOperatorSecret)} <input id="secret" type="password" autocomplete="off"></label>
<button id="approve-secret" type="button">${escapeHtml(words.approveWithSecret)}</button></p>
<p><button id="decline" type="button">${escapeHtml(words.decline)}</button></p>`
      : `<p>${words.nothingLeft
          .split('{state}')
          .map(escapeHtml)
          .join(`<strong id="state">${escapeHtml(words.states[state])}</strong>`)}</p>`;
  return layout(
    language,
    words.approveTitle,
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
    const answer = await response.json().catch(() => ({ ok: false, message: body.dataset.unexpected }));
    if (!answer.ok) throw new Error(answer.message || body.dataset.refused);
    return answer;
  }
  const secret = () => (document.getElementById('secret') || { value: '' }).value;
  function on(id, action) {
    const button = document.getElementById(id);
    if (!button) return;
    button.addEventListener('click', async () => {
      button.disabled = true;
      try { show((await action()).message); } catch (error) { show(body.dataset.notDone + error.message); }
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
