/**
 * The simulated hosted checkout page: one static HTML document and one script, no external
 * network. The page reads the link from its fragment (`#/?…`, as QFPay's page does) and asks the
 * simulator to verify it before showing anything, so a tampered link shows only an error.
 */

export const CHECKOUT_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>QFPay checkout (simulator)</title>
<link rel="stylesheet" href="/checkstand/checkout.css">
<script src="/checkstand/checkout.js" defer></script>
</head>
<body>
<main>
  <p class="banner">QFPay simulator: no real money moves here.</p>
  <section id="loading"><p>Checking the payment link…</p></section>
  <section id="error" hidden>
    <h1 data-text="errorTitle">This payment link cannot be used</h1>
    <p id="error-message"></p>
    <a id="error-back" hidden data-text="back">Back to the shop</a>
  </section>
  <section id="order" hidden>
    <h1 data-text="pay">Pay</h1>
    <p class="amount" id="amount"></p>
    <p id="goods"></p>
    <p class="muted">Order <span id="order-ref"></span></p>
    <form id="method-form">
      <fieldset id="methods"><legend data-text="choose">Choose how to pay</legend></fieldset>
      <div id="card-fields" hidden>
        <label><span data-text="cardNumber">Card number</span> <input id="card-number" name="card" autocomplete="off" inputmode="numeric"></label>
      </div>
      <button type="submit" id="pay-button" data-text="payNow">Pay now</button>
      <a id="cancel-link" data-text="cancel">Cancel</a>
    </form>
  </section>
  <section id="challenge" hidden>
    <h1>3-D Secure</h1>
    <p data-text="challengeHelp">Your bank sent a one-time code. Enter it to approve the payment.</p>
    <form id="challenge-form">
      <label><span data-text="code">Code</span> <input id="challenge-code" autocomplete="one-time-code" inputmode="numeric"></label>
      <button type="submit" id="challenge-button" data-text="approve">Approve</button>
    </form>
  </section>
  <section id="done" hidden><p id="done-message"></p></section>
</main>
</body>
</html>
`;

export const CHECKOUT_CSS = `
body { font-family: system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d1f23; }
main { max-width: 28rem; margin: 2rem auto; background: #fff; padding: 1.5rem; border-radius: 8px; }
.banner { background: #fff4d6; padding: .5rem; border-radius: 4px; font-size: .9rem; }
.amount { font-size: 2rem; font-weight: 600; margin: .5rem 0; }
.muted { color: #666; font-size: .9rem; }
fieldset { border: 0; padding: 0; margin: 1rem 0; }
label { display: block; margin: .5rem 0; }
input { font-size: 1rem; padding: .4rem; width: 100%; box-sizing: border-box; }
button { font-size: 1rem; padding: .6rem 1.2rem; margin-right: 1rem; }
`;

export const CHECKOUT_JS = `'use strict';
(function () {
  var TEXT = {
    en: {},
    'zh-hk': { pay: '付款', choose: '選擇付款方式', cardNumber: '卡號', payNow: '立即付款', cancel: '取消',
      challengeHelp: '銀行已發送一次性驗證碼，請輸入以批准付款。', code: '驗證碼', approve: '批准',
      errorTitle: '此付款連結無法使用', back: '返回商店' },
    'zh-cn': { pay: '付款', choose: '选择付款方式', cardNumber: '卡号', payNow: '立即付款', cancel: '取消',
      challengeHelp: '银行已发送一次性验证码，请输入以批准付款。', code: '验证码', approve: '批准',
      errorTitle: '此付款链接无法使用', back: '返回商店' }
  };
  var query = location.hash.replace(/^#\\/?\\??/, '');
  var view = null;
  var challengeId = null;

  function show(id) {
    ['loading', 'error', 'order', 'challenge', 'done'].forEach(function (name) {
      document.getElementById(name).hidden = name !== id;
    });
  }
  function fail(message, backUrl) {
    document.getElementById('error-message').textContent = message;
    var back = document.getElementById('error-back');
    if (backUrl) { back.href = backUrl; back.hidden = false; }
    show('error');
  }
  function post(path, body) {
    return fetch('/checkstand/api/' + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Object.assign({ query: query }, body))
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) { var error = new Error(json.message || 'The simulator refused.'); error.back = json.failed_url; throw error; }
        return json;
      });
    });
  }
  function translate(lang) {
    var table = TEXT[lang] || {};
    document.documentElement.lang = lang;
    Array.prototype.forEach.call(document.querySelectorAll('[data-text]'), function (node) {
      var text = table[node.getAttribute('data-text')];
      if (text) node.textContent = text;
    });
  }
  function finish(result) {
    if (result.result === 'challenge') { challengeId = result.challenge_id; show('challenge'); return; }
    document.getElementById('done-message').textContent =
      result.result === 'paid' ? 'Paid. Returning to the shop…' : (result.message || 'Declined.');
    show('done');
    location.assign(result.redirect);
  }
  function render() {
    translate(view.lang);
    document.getElementById('amount').textContent = view.amount_display;
    document.getElementById('goods').textContent = view.goods_name || '';
    document.getElementById('order-ref').textContent = view.out_trade_no;
    document.getElementById('cancel-link').href = view.cancel_url;
    var box = document.getElementById('methods');
    view.methods.forEach(function (method, index) {
      var label = document.createElement('label');
      var input = document.createElement('input');
      input.type = 'radio'; input.name = 'method'; input.value = method.id; input.id = 'method-' + method.id;
      input.style.width = 'auto';
      if (index === 0) input.checked = true;
      input.addEventListener('change', updateCardFields);
      label.appendChild(input);
      label.appendChild(document.createTextNode(' ' + method.label));
      box.appendChild(label);
    });
    updateCardFields();
    show('order');
  }
  function selectedMethod() {
    var checked = document.querySelector('input[name=method]:checked');
    return checked ? checked.value : '';
  }
  function updateCardFields() {
    document.getElementById('card-fields').hidden = selectedMethod() !== 'card';
  }
  document.getElementById('method-form').addEventListener('submit', function (event) {
    event.preventDefault();
    document.getElementById('pay-button').disabled = true;
    post('pay', { method: selectedMethod(), card_number: document.getElementById('card-number').value })
      .then(finish, function (error) { fail(error.message, error.back); });
  });
  document.getElementById('challenge-form').addEventListener('submit', function (event) {
    event.preventDefault();
    document.getElementById('challenge-button').disabled = true;
    post('challenge', { challenge_id: challengeId, code: document.getElementById('challenge-code').value })
      .then(finish, function (error) { fail(error.message, error.back); });
  });
  post('session', {}).then(function (result) {
    view = result;
    if (view.paid) { finish({ result: 'paid', redirect: view.return_url }); return; }
    render();
  }, function (error) { fail(error.message, error.back); });
})();
`;
