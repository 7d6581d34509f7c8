/* parcours survey widget: <script src="https://HOST/s/ID/widget.js" data-customer="C1" data-lang="fr"></script> */
(function () {
  var cfg = __CONFIG__;
  var me = document.currentScript;
  var origin = new URL(me.src, location.href).origin;
  var lang = (me.dataset.lang || document.documentElement.lang || 'fr').slice(0, 2) === 'en' ? 'en' : 'fr';
  var w = cfg.words[lang];
  var box = document.createElement('div');
  box.className = 'parcours-survey';
  box.setAttribute('data-survey', cfg.id);
  box.style.cssText = 'font:15px/1.4 system-ui,sans-serif;background:#fff;border:1px solid #d9e2ec;border-radius:8px;' +
    'padding:14px;max-width:560px;box-shadow:0 2px 8px rgba(0,0,0,.12);color:#1f2933;' +
    (me.dataset.inline ? '' : 'position:fixed;right:16px;bottom:16px;z-index:99999;');
  var q = document.createElement('p');
  q.style.margin = '0 0 10px';
  q.textContent = cfg.question[lang];
  box.appendChild(q);
  var row = document.createElement('div');
  row.style.cssText = 'display:flex;flex-wrap:wrap;gap:4px;margin:0 0 10px';
  var chosen = null;
  for (var s = cfg.scale[0]; s <= cfg.scale[1]; s++) {
    (function (s) {
      var b = document.createElement('button');
      b.type = 'button';
      b.textContent = s;
      b.className = 'score';
      b.setAttribute('data-score', s);
      b.style.cssText = 'min-width:36px;padding:6px;border:1px solid #9fb3c8;border-radius:4px;background:#f0f4f8;cursor:pointer';
      b.onclick = function () {
        chosen = s;
        row.querySelectorAll('button').forEach(function (x) { x.style.background = '#f0f4f8'; x.style.color = ''; });
        b.style.background = '#2680c2'; b.style.color = '#fff';
        send.disabled = false;
      };
      row.appendChild(b);
    })(s);
  }
  box.appendChild(row);
  var text = null;
  if (cfg.free_text) {
    text = document.createElement('textarea');
    text.placeholder = w.comment;
    text.setAttribute('aria-label', w.comment);
    text.rows = 3;
    text.style.cssText = 'width:100%;box-sizing:border-box;margin:0 0 10px;font:inherit';
    box.appendChild(text);
  }
  var send = document.createElement('button');
  send.type = 'button';
  send.className = 'send';
  send.textContent = w.send;
  send.disabled = true;
  send.style.cssText = 'background:#2680c2;color:#fff;border:0;border-radius:4px;padding:6px 14px;cursor:pointer';
  send.onclick = function () {
    send.disabled = true;
    fetch(origin + '/s/' + cfg.id + '/responses', {
      method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({score: chosen, text: text ? text.value : null, lang: lang,
                            customer_id: me.dataset.customer || null, touchpoint: me.dataset.touchpoint || null})
    }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      box.innerHTML = '';
      var t = document.createElement('p');
      t.className = 'thanks';
      t.style.margin = '0';
      t.textContent = w.thanks;
      box.appendChild(t);
    }).catch(function () { send.disabled = false; });
  };
  box.appendChild(send);
  if (me.parentNode === document.head) {  // a script in <head>: show the box once the body exists
    document.addEventListener('DOMContentLoaded', function () { document.body.appendChild(box); });
  } else {
    me.parentNode.insertBefore(box, me.nextSibling);
  }
})();
