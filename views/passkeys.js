// Passkey buttons (forms marked data-passkey="get" or "create"): asks the server for the
// WebAuthn options, runs the browser's ceremony through @simplewebauthn/browser (served from
// this origin as /assets/simplewebauthn-browser.js) and posts the result in the form's
// `credential` field, so the server answers with a normal page. Without WebAuthn the forms
// stay hidden and the rest of the page works as before.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  if (!lib || !window.PublicKeyCredential || !window.fetch) return;

  async function run(form) {
    var button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    var field = form.elements.namedItem('credential');
    try {
      var body = new URLSearchParams(new FormData(form));
      body.delete('credential');
      var res = await fetch(form.dataset.options, {
        method: 'POST',
        body: body,
        credentials: 'same-origin',
        headers: { accept: 'application/json' },
      });
      if (!res.ok) throw new Error('options: HTTP ' + res.status);
      var optionsJSON = await res.json();
      var result =
        form.dataset.passkey === 'create'
          ? await lib.startRegistration({ optionsJSON: optionsJSON })
          : await lib.startAuthentication({ optionsJSON: optionsJSON });
      field.value = JSON.stringify(result);
    } catch {
      // Cancelled, timed out, or no passkey here: the server explains on the page it answers.
      field.value = '';
    }
    form.submit();
  }

  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    form.hidden = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      run(form);
    });
  });
})();
