/* The dashboard's pages: fetch each block's JSON (same session), show progress, draw it. */
(function () {
  'use strict';
  const P = window.PARCOURS, lang = P.lang;
  const fmt = new Intl.NumberFormat(lang === 'fr' ? 'fr-FR' : 'en-GB', {maximumFractionDigits: 1});
  const pct = v => v == null ? '–' : fmt.format(100 * v) + ' %';
  const num = v => v == null ? '–' : (typeof v === 'number' ? fmt.format(v) : String(v));
  const cfg = {responsive: true, displayModeBar: false};
  const colon = lang === 'fr' ? '\u00a0: ' : ': ';
  const lay = extra => Object.assign({margin: {l: 50, r: 10, t: 30, b: 40}, font: {size: 12}, autosize: true}, extra);
  const T = {
    fr: {stage: 'étape', reach: 'atteints', conversion: 'conversion', step: 'étape', count: 'personnes',
         from_first: 'depuis le début', from_prev: 'depuis la précédente', nps: 'NPS', csat: 'CSAT', ces: 'CES',
         trend: 'Tendance mensuelle', themes: 'Thèmes des verbatims', theme: 'thème', sentiment: 'sentiment',
         evidence: 'Preuve', impact: 'Impact', lost: 'conversions perdues / mois', credit: 'conversions créditées',
         time: 'date', event: 'événement', channel: 'canal', touchpoint: 'point de contact', empty: 'Aucune donnée.',
         members: 'membres', segment: 'segment', customers: 'clients', total: 'Total', cac: 'CAC', period: 'période',
         top: 'Clients de plus forte valeur prédite', emotion: 'Émotion moyenne (−1 à 1)', variants: 'Variantes de chemins', vs_targets: 'Indicateurs face aux cibles', value: 'valeur', met: 'atteint', by: 'Ventilation par', answers: 'réponses', abandonment: 'abandon', target: 'cible',
         nps_dist: 'Répartition des notes NPS', imports: 'Imports', rejects: 'Lignes rejetées', identities: 'Identités'},
    en: {stage: 'stage', reach: 'reached', conversion: 'conversion', step: 'step', count: 'people',
         from_first: 'from start', from_prev: 'from previous', nps: 'NPS', csat: 'CSAT', ces: 'CES',
         trend: 'Monthly trend', themes: 'Verbatim themes', theme: 'theme', sentiment: 'sentiment',
         evidence: 'Evidence', impact: 'Impact', lost: 'lost conversions / month', credit: 'credited conversions',
         time: 'time', event: 'event', channel: 'channel', touchpoint: 'touchpoint', empty: 'No data.',
         members: 'members', segment: 'segment', customers: 'customers', total: 'Total', cac: 'CAC', period: 'period',
         top: 'Customers with the highest predicted value', emotion: 'Mean emotion (−1 to 1)', variants: 'Path variants', vs_targets: 'Indicators against targets', value: 'value', met: 'met', by: 'Breakdown by', answers: 'answers', abandonment: 'abandonment', target: 'target',
         nps_dist: 'NPS score distribution', imports: 'Imports', rejects: 'Rejected rows', identities: 'Identities'}
  }[lang];

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const k of kids) if (k != null) e.append(k instanceof Node ? k : String(k));
    return e;
  }
  function table(rows, cols, heads) {
    if (!rows || !rows.length) return el('p', {}, T.empty);
    const t = el('table');
    t.append(el('thead', {}, el('tr', {}, ...cols.map((c, i) => el('th', {}, heads ? heads[i] : c)))));
    const body = el('tbody');
    for (const r of rows) {
      body.append(el('tr', {}, ...cols.map(c => {
        const v = typeof c === 'function' ? c(r) : r[c];
        const numeric = typeof v === 'number' || (typeof v === 'string' && / %$/.test(v));
        return el('td', numeric ? {class: 'num'} : {}, typeof v === 'number' ? num(v) : (v == null ? '' : (Array.isArray(v) ? v.join(' → ') : v)));
      })));
    }
    t.append(body);
    return el('div', {class: 'scroll'}, t);
  }
  function chart(box, data, layout, height) {
    const d = el('div', {class: 'chart'});
    if (height) d.style.height = height + 'px';
    box.append(d);
    Plotly.newPlot(d, data, lay(layout), cfg);
    return d;
  }

  const R = {};
  R.kpis = (box, d) => {
    const s = d.stages || [];
    chart(box, [{type: 'bar', name: T.reach, x: s.map(x => x.label), y: s.map(x => x.reach)},
                {type: 'scatter', mode: 'lines+markers', name: T.conversion, yaxis: 'y2', x: s.map(x => x.label), y: s.map(x => x.conversion)}],
          {title: {text: T.stage}, margin: {l: 50, r: 50, t: 30, b: 40}, yaxis2: {overlaying: 'y', side: 'right', tickformat: '.0%', range: [0, 1]}, legend: {orientation: 'h'}});
    const targets = s.flatMap(x => (x.kpis || []).map(k => ({stage: x.label, ...k})));
    if (targets.length) {  // each stage's declared KPIs against their targets (journey.yaml)
      const show = (v, k) => v == null ? '–' : (Math.abs(k.target ?? v) <= 1 && Math.abs(v) <= 1 ? pct(v) : num(v));
      box.append(el('h3', {}, T.vs_targets), table(targets.map(k => ({stage: k.stage, label: k.label || k.metric,
        value: show(k.value, k), target: (k.direction === 'lower' ? '≤ ' : '≥ ') + show(k.target, k),
        met: k.met == null ? '–' : (k.met ? '✔' : '✘')})), ['stage', 'label', 'value', 'target', 'met'],
        [T.stage, 'KPI', T.value, T.target, T.met]));
      box.querySelectorAll('tbody tr').forEach(tr => { const c = tr.cells[4]; if (c) c.style.color = c.textContent === '✔' ? '#2f8132' : c.textContent === '✘' ? '#c62828' : ''; });
    }
    const cols = Object.keys(s[0] || {}).filter(k => k !== 'stage' && typeof (s[0] || {})[k] !== 'object');
    box.append(table(s.map(x => Object.fromEntries(cols.map(c => [c, (typeof x[c] === 'number' && x[c] <= 1 && /rate|conversion|abandon|through/.test(c)) ? pct(x[c]) : x[c]]))), cols));
  };
  R.health = (box, d) => {
    const o = d.overall || {};
    const k = el('div', {class: 'kpis'});
    const add = (lbl, v) => k.append(el('div', {class: 'kpi'}, el('div', {class: 'big'}, v), el('div', {class: 'lbl'}, lbl)));
    if (o.nps) add(T.nps + ' (' + o.nps.n + ' ' + T.answers + ')', num(o.nps.score));
    if (o.csat) add(T.csat + ' (' + o.csat.n + ')', num(o.csat.score) + ' %');
    if (o.ces) add(T.ces + ' (' + o.ces.n + ')', num(o.ces.mean));
    if (o.emotion) add(T.emotion, o.emotion.score == null ? '–' : o.emotion.score.toFixed(2));
    box.append(k);
    trend(box, d.trend || []);
  };
  function trend(box, rows) {
    if (!rows.length) return;
    const x = rows.map(r => r.period);
    const series = ['nps', 'csat'].filter(m => rows.some(r => r[m] && r[m].score != null));
    chart(box, series.map(m => ({type: 'scatter', mode: 'lines+markers', name: T[m], x, y: rows.map(r => r[m] ? r[m].score : null)})),
          {title: {text: T.trend}, legend: {orientation: 'h'}});
  }
  R.funnel = (box, d) => {
    const s = d.steps || [];
    chart(box, [{type: 'funnel', y: s.map(x => x.name), x: s.map(x => x.count), textinfo: 'value+percent initial'}],
          {margin: {l: 140, r: 10, t: 10, b: 20}});
    box.append(table(s.map(x => ({...x, f: pct(x.conversion_from_first), p: pct(x.conversion_from_previous)})),
                     ['name', 'count', 'f', 'p', 'median_seconds'], [T.step, T.count, T.from_first, T.from_prev, 'median s']));
    const g = d.breakdown || [];
    if (g.length) {  // one bar series per breakdown value, and each value's conversion to the last step
      box.append(el('h3', {}, T.by + ' ' + (d.by || '')));
      chart(box, g.map(x => ({type: 'bar', name: String(x.value), x: x.steps.map(st => st.name), y: x.steps.map(st => st.count)})),
            {barmode: 'group', legend: {orientation: 'h'}});
      box.append(table(g.map(x => ({value: x.value, first: x.steps[0].count, last: x.steps[x.steps.length - 1].count,
                                    conv: pct(x.steps[x.steps.length - 1].conversion_from_first)})),
                       ['value', 'first', 'last', 'conv'], [d.by || '', s[0] ? s[0].name : '', s.length ? s[s.length - 1].name : '', T.from_first]));
    }
  };
  R.paths = (box, d) => {
    const flows = (d.flows || []).filter(f => f.step < 5);
    const ids = new Map(), labels = [];
    const node = (step, item) => { const k = step + '|' + item; if (!ids.has(k)) { ids.set(k, labels.length); labels.push(item); } return ids.get(k); };
    const src = [], dst = [], val = [];
    for (const f of flows) { src.push(node(f.step, f.from)); dst.push(node(f.step + 1, f.to)); val.push(f.customers); }
    chart(box, [{type: 'sankey', node: {label: labels, pad: 12}, link: {source: src, target: dst, value: val}}], {margin: {l: 10, r: 10, t: 10, b: 10}}, 460);
    box.append(el('h3', {}, T.variants), table(d.variants || [], ['path', 'customers', r => pct(r.share), r => pct(r.conversion)], ['path', T.customers, '%', T.conversion]));
  };
  R.timeline = (box, d) => {
    const head = Object.entries(d).filter(([k, v]) => typeof v !== 'object');
    box.append(el('p', {}, head.map(([k, v]) => k + colon + v).join(' · ')));
    for (const [k, v] of Object.entries(d)) {
      if (Array.isArray(v) && v.length && typeof v[0] === 'object') box.append(el('h3', {}, k), table(v, Object.keys(v[0]).filter(c => typeof v[0][c] !== 'object')));
    }
  };
  R.painpoints = (box, d) => {
    const ps = d.painpoints || [];
    if (!ps.length) box.append(el('p', {}, T.empty));
    for (const p of ps) {
      const e = p.evidence || {}, i = p.impact || {};
      const where = [p.stage, p.touchpoint, p.channel, p.event, p.segment].filter(Boolean).join(' · ');
      const card = el('div', {class: 'pain'}, el('h3', {}, p.kind + ' — ' + where),
        el('p', {}, T.evidence + colon + (lang === 'fr' ? e.metric_fr || e.metric : e.metric) + ' = ' + pct(e.value) + ' vs ' + pct(e.baseline) +
           ' (n = ' + num(e.n) + ', ' + (e.test || '') + ')'),
        el('p', {}, T.impact + colon + num(i.lost_conversions_per_month) + ' ' + T.lost));
      for (const v of (p.verbatims || []).slice(0, 3)) card.append(el('blockquote', {}, v));
      const acts = (p.actions || []).map(a => a[lang] || a.en).slice(0, 3);
      if (acts.length) card.append(el('ul', {}, ...acts.map(a => el('li', {}, a))));
      box.append(card);
    }
  };
  R.feedback = (box, d) => {
    R.health(box, d);
    const o = d.overall || {};
    if (o.nps && o.nps.distribution) chart(box, [{type: 'bar', x: o.nps.distribution.map(r => r.score), y: o.nps.distribution.map(r => r.count)}], {title: {text: T.nps_dist}});
    const th = (d.verbatims || {}).themes || [];
    box.append(el('h2', {}, T.themes));
    box.append(table(th.map(t => ({...t, sentiment: t.sentiment == null ? null : t.sentiment.toFixed(2), label: lang === 'fr' ? t.label_fr : t.label_en, ex: (t.examples || []).slice(0, 2).map(x => x.text).join(' / ')})),
      ['label', 'verbatims', 'sentiment', 'negative', 'neutral', 'positive', 'ex'], [T.theme, 'n', T.sentiment, '−', '0', '+', 'verbatims']));
  };
  R.segments = (box, d) => {
    const segs = d.segments || [];
    box.append(table(segs, Object.keys(segs[0] || {}).filter(k => typeof (segs[0] || {})[k] !== 'object')));
    const cmp = document.getElementById('compare');
    if (cmp) for (const s of segs.slice(0, 6)) {
      const b = el('section', {class: 'card block', 'data-kind': 'funnel', 'data-api': '/app/q/funnel?stages=true&segment=' + encodeURIComponent(s.name)});
      cmp.append(el('h3', {}, s.name), b);
      load(b);
    }
  };
  R.attribution = (box, d) => {
    const key = d.touch === 'channel' ? 'channels' : Object.keys(d).find(k => Array.isArray(d[k]));
    const rows = d[key] || d.channels || [];
    const name = r => r.channel ?? r.touchpoint ?? r.campaign ?? r.name;
    chart(box, [{type: 'bar', x: rows.map(name), y: rows.map(r => r.conversions)}], {title: {text: T.credit + ' (' + d.model + ')'}});
    box.append(table(rows, Object.keys(rows[0] || {})));
  };
  R.cac = (box, d) => {
    box.append(el('h2', {}, 'CAC'));
    const rows = d.rows || [], groups = [...new Set(rows.map(r => r.channel ?? r.campaign ?? T.total))];
    chart(box, groups.map(g => ({type: 'scatter', mode: 'lines+markers', name: g, x: rows.filter(r => (r.channel ?? r.campaign ?? T.total) === g).map(r => r.period),
                                 y: rows.filter(r => (r.channel ?? r.campaign ?? T.total) === g).map(r => r.cac)})), {legend: {orientation: 'h'}});
    if (d.total) box.append(el('p', {}, T.total + colon + T.cac + ' ' + num(d.total.cac) + ', ' + num(d.total.new_customers) + ' ' + T.customers));
  };
  R.clv = (box, d) => {
    box.append(el('h2', {}, 'CLV'));
    const c = [...(d.customers || [])].sort((a, b) => (b.predicted_clv || 0) - (a.predicted_clv || 0)).slice(0, 20);
    box.append(el('h3', {}, T.top), table(c, ['customer', 'frequency', 'p_alive', 'expected_purchases', 'historical_clv', 'predicted_clv']));
    for (const n of d.notes || []) box.append(el('p', {class: 'note'}, n));
  };
  R.data = (box, d) => {
    for (const k of ['imports', 'rejects', 'identities']) {
      const rows = d[k] || [];
      box.append(el('h2', {}, T[k]), table(rows, Object.keys(rows[0] || {})));
    }
  };
  R.html = (box, html) => {
    box.innerHTML = html;
    for (const old of box.querySelectorAll('script')) {  // innerHTML does not run scripts
      const s = document.createElement('script');
      s.textContent = old.textContent;
      old.replaceWith(s);
    }
  };

  async function load(box) {
    const started = performance.now();
    const secs = box.querySelector('.secs');
    const tick = secs && setInterval(() => { secs.textContent = Math.round((performance.now() - started) / 1000) + ' s'; }, 1000);
    if (!box.querySelector('.progress')) box.append(el('div', {class: 'progress', role: 'status'}, el('span', {class: 'spin'}), ' ' + P.words.loading));
    try {
      const kind = box.dataset.kind;
      const r = await fetch(box.dataset.api, {credentials: 'same-origin', headers: {Accept: kind === 'html' ? 'text/html' : 'application/json'}});
      if (r.status === 401) { location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search); return; }
      const body = kind === 'html' ? await r.text() : await r.json();
      if (!r.ok) throw new Error(body.detail || r.status);
      box.textContent = '';
      R[kind](box, body);
      box.dataset.done = '1';
    } catch (e) {
      box.textContent = '';
      box.append(el('p', {class: 'error', role: 'alert'}, P.words.failed + e.message));
      box.dataset.done = 'error';
    } finally {
      if (tick) clearInterval(tick);
    }
  }
  document.querySelectorAll('section.block[data-api]').forEach(load);
})();
