/*
 * pino-alerts dashboard page. Plain script, no build step, no dependencies.
 *
 * Every value that comes from an alert (titles, bodies, labels, metadata, errors, comments) reaches
 * the page as TEXT: through textContent or text nodes, never parsed as HTML. The page runs under a CSP
 * without inline script or style.
 */
'use strict'
;(function () {
  const SEVERITIES = ['critical', 'warn', 'info']
  const MAX_ITEMS = 1000
  const $ = (id) => document.getElementById(id)

  const state = {
    items: new Map(), // id → item
    selected: null,
    detail: null,
    silences: [],
    session: { auth: false, alerterAttached: false },
    range: 86400000,
    chartTimer: null
  }

  // ---------------------------------------------------------------------------------------------
  // DOM helpers: attributes via setAttribute, children as text nodes.

  function el (tag, attrs, ...children) {
    const node = document.createElement(tag)
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue
        node.setAttribute(k, v === true ? '' : String(v))
      }
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue
      node.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c)
    }
    return node
  }

  const SVG = 'http://www.w3.org/2000/svg'
  function svg (tag, attrs, text) {
    const node = document.createElementNS(SVG, tag)
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v))
    if (text !== undefined) node.textContent = text
    return node
  }

  function clear (node) { while (node.firstChild) node.removeChild(node.firstChild) }

  function fmtTime (iso) {
    const d = new Date(iso)
    const today = new Date()
    const sameDay = d.toDateString() === today.toDateString()
    return sameDay ? d.toLocaleTimeString() : d.toLocaleString()
  }

  function fmtRelative (iso) {
    const ms = Date.parse(iso) - Date.now()
    const abs = Math.abs(ms)
    const unit = abs < 90000 ? [Math.round(abs / 1000), 's'] : abs < 5400000 ? [Math.round(abs / 60000), 'min'] : abs < 172800000 ? [Math.round(abs / 3600000), 'h'] : [Math.round(abs / 86400000), 'd']
    return ms >= 0 ? `in ${unit[0]} ${unit[1]}` : `${unit[0]} ${unit[1]} ago`
  }

  let toastTimer = null
  function toast (text, isError) {
    const t = $('toast')
    t.textContent = text
    t.classList.toggle('error', Boolean(isError))
    t.hidden = false
    clearTimeout(toastTimer)
    toastTimer = setTimeout(() => { t.hidden = true }, isError ? 8000 : 4000)
  }

  function me () {
    return $('me').value.trim() || 'dashboard'
  }

  // ---------------------------------------------------------------------------------------------
  // API

  async function api (method, path, body) {
    const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' }
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json'
      init.body = JSON.stringify(body)
    }
    const res = await fetch(path, init)
    if (res.status === 401) {
      location.assign('/login')
      throw new Error('not logged in')
    }
    let data = null
    try { data = await res.json() } catch { data = null }
    if (!res.ok) throw new Error((data && data.error) || `HTTP ${res.status}`)
    return data
  }

  // ---------------------------------------------------------------------------------------------
  // Filters (the server applies the same ones to the list it sends)

  function filters () {
    return {
      severity: $('f-severity').value,
      source: $('f-source').value.trim(),
      status: $('f-status').value,
      q: $('f-q').value.trim()
    }
  }

  function passes (item) {
    const f = filters()
    if (f.severity && !f.severity.split(',').includes(item.severity)) return false
    if (f.source && item.source !== f.source) return false
    if (f.q) {
      const q = f.q.toLowerCase()
      if (!item.title.toLowerCase().includes(q) && !item.body.toLowerCase().includes(q)) return false
    }
    switch (f.status) {
      case 'firing': case 'resolved': return item.status === f.status
      case 'acked': return item.acked !== null
      case 'unacked': return item.status === 'firing' && item.suppressed === undefined && item.acked === null
      case 'suppressed': return item.suppressed !== undefined
      case 'failed': return item.delivery === 'failed'
      case 'pending': return item.delivery === 'pending'
      default: return true
    }
  }

  function query (extra) {
    const f = filters()
    const p = new URLSearchParams()
    for (const [k, v] of Object.entries(f)) if (v) p.set(k, v)
    p.set('limit', '200')
    for (const [k, v] of Object.entries(extra || {})) p.set(k, v)
    return p.toString()
  }

  // ---------------------------------------------------------------------------------------------
  // The alert list

  function sortedItems () {
    return [...state.items.values()].filter(passes).sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp) || (b._seq || 0) - (a._seq || 0))
  }

  let seq = 0
  function remember (item) {
    const old = state.items.get(item.id)
    item._seq = old ? old._seq : ++seq
    state.items.set(item.id, item)
    if (state.items.size > MAX_ITEMS) {
      const oldest = [...state.items.values()].sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp))[0]
      if (oldest && oldest.id !== state.selected) state.items.delete(oldest.id)
    }
  }

  function stateChips (item) {
    const chips = []
    if (item.suppressed !== undefined) chips.push(el('span', { class: 'chip suppressed', title: 'not sent on purpose' }, item.suppressed === 'silence' ? 'silenced' : item.suppressed))
    else chips.push(el('span', { class: `chip ${item.status}` }, item.status))
    if (item.acked) chips.push(el('span', { class: 'chip acked', title: `acknowledged by ${item.acked.by}` }, 'acked'))
    return chips
  }

  function deliveryChips (item) {
    if (item.delivery === 'pending') return [el('span', { class: 'chip pending' }, 'pending')]
    if (item.delivery === 'suppressed') return [el('span', { class: 'chip suppressed' }, 'not sent')]
    if (item.channels.length === 0) return [el('span', { class: 'chip' }, 'no channel')]
    return item.channels.map((c) => el('span', { class: `chip ${c.ok ? 'ok' : 'failed'}`, title: c.standInFor ? `stand-in for ${c.standInFor}` : undefined }, `${c.ok ? '✓' : '✗'} ${c.channel}`))
  }

  function row (item, fresh) {
    const cls = [`sev-${item.severity}`]
    if (item.id === state.selected) cls.push('selected')
    if (fresh) cls.push('fresh')
    return el('tr', { 'data-id': item.id, class: cls.join(' ') },
      el('td', { class: 'time', title: item.timestamp }, fmtTime(item.timestamp)),
      el('td', null, el('span', { class: `sev sev-${item.severity}` }, item.severity)),
      el('td', { class: 'source' }, item.source),
      el('td', { class: 'title' }, item.title),
      el('td', { class: 'state' }, stateChips(item)),
      el('td', { class: 'delivery' }, deliveryChips(item)))
  }

  const freshIds = new Set()
  function renderList () {
    const body = $('alert-rows')
    clear(body)
    const items = sortedItems()
    for (const item of items.slice(0, 500)) body.appendChild(row(item, freshIds.has(item.id)))
    freshIds.clear()
    $('empty').hidden = items.length > 0
    $('list-count').textContent = items.length === 1 ? '1 alert' : `${items.length} alerts`
    const sources = new Set([...state.items.values()].map((i) => i.source))
    const dl = $('sources')
    clear(dl)
    for (const s of [...sources].sort()) dl.appendChild(el('option', { value: s }))
  }

  let listRequest = 0
  async function loadList () {
    const mine = ++listRequest
    try {
      const data = await api('GET', '/api/alerts?' + query())
      if (mine !== listRequest) return
      const keep = state.selected ? state.items.get(state.selected) : undefined
      state.items.clear()
      if (keep) remember(keep)
      for (const item of data.alerts.reverse()) remember(item)
      $('more').hidden = data.count < 200
      renderList()
    } catch (err) {
      toast(`Could not load alerts: ${err.message}`, true)
    }
  }

  async function loadOlder () {
    const items = sortedItems()
    const oldest = items[items.length - 1]
    if (!oldest) return
    try {
      const data = await api('GET', '/api/alerts?' + query({ until: String(Date.parse(oldest.timestamp) + 1) }))
      let added = 0
      for (const item of data.alerts) if (!state.items.has(item.id)) { remember(item); added++ }
      $('more').hidden = added === 0
      renderList()
    } catch (err) {
      toast(`Could not load alerts: ${err.message}`, true)
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The detail panel

  function kvRows (tbody, pairs) {
    clear(tbody)
    for (const [k, v] of pairs) tbody.appendChild(el('tr', null, el('td', null, k), el('td', { class: 'mono' }, v)))
  }

  function renderDetail () {
    const d = state.detail
    const panel = $('detail')
    if (!d) { panel.hidden = true; return }
    const a = state.items.get(d.alert.id) || d.alert
    panel.hidden = false
    const sev = $('d-sev')
    sev.className = `sev sev-${a.severity}`
    sev.textContent = a.severity
    $('d-title').textContent = a.title

    const bits = [`${a.status}`]
    if (a.suppressed !== undefined) bits.push(`not sent: ${a.suppressed}`)
    if (a.acked) bits.push(`acknowledged by ${a.acked.by} ${fmtRelative(a.acked.at)}${a.acked.comment ? ` (“${a.acked.comment}”)` : ''}`)
    if (d.resolvedBy) bits.push(`resolved ${fmtRelative(d.resolvedBy.timestamp)}`)
    if (a.delivery === 'pending') bits.push('delivery in progress')
    $('d-state').textContent = bits.join(' · ')

    const firing = a.status === 'firing'
    $('d-ack').disabled = Boolean(a.acked) || !firing
    $('d-ack').textContent = a.acked ? 'Acknowledged' : 'Acknowledge'
    $('d-resolve').disabled = !firing || Boolean(d.resolvedBy)
    $('d-body').textContent = a.body

    const receipts = d.receipts || []
    const tbody = $('d-receipts')
    clear(tbody)
    for (const r of receipts) {
      tbody.appendChild(el('tr', null,
        el('td', null, r.channel),
        el('td', null, el('span', { class: `chip ${r.ok ? 'ok' : 'failed'}` }, r.ok ? 'delivered' : 'failed')),
        el('td', null, String(r.attempts)),
        el('td', null, r.standInFor || ''),
        el('td', { class: 'error' }, r.error || ''),
        el('td', { class: 'mono', title: r.at }, fmtTime(r.at))))
    }
    const none = $('d-no-receipts')
    none.hidden = receipts.length > 0
    none.textContent = a.suppressed !== undefined ? `Not sent (${a.suppressed}).` : a.delivery === 'pending' ? 'Delivery in progress…' : 'No channel was routed.'

    const labels = Object.entries(a.labels || {})
    kvRows($('d-labels'), labels.length > 0 ? labels : [['(none)', '']])
    const fields = [['id', a.id], ['source', a.source], ['timestamp', a.timestamp], ['received', a.receivedAt], ['level', String(a.level)], ['fingerprint', a.fingerprint], ['settled', String(a.settled)]]
    if (a.trace) fields.push(['trace', `${a.trace.traceId} / ${a.trace.spanId}`])
    kvRows($('d-fields'), fields)
    $('d-meta').textContent = JSON.stringify(a.metadata || {}, null, 2)

    for (const tr of $('alert-rows').children) tr.classList.toggle('selected', tr.getAttribute('data-id') === a.id)
  }

  async function select (id) {
    if (state.selected !== id) {
      $('silence-form').hidden = true
      $('d-comment').value = ''
    }
    state.selected = id
    try {
      const d = await api('GET', `/api/alerts/${encodeURIComponent(id)}`)
      if (state.selected !== id) return
      remember(d.alert)
      state.detail = d
      renderDetail()
    } catch (err) {
      toast(`Could not load the alert: ${err.message}`, true)
    }
  }

  function refreshDetailSoon (id) {
    if (state.selected === id) select(id)
  }

  // ---------------------------------------------------------------------------------------------
  // Actions

  async function ack () {
    const id = state.selected
    if (!id) return
    $('d-ack').disabled = true
    try {
      const r = await api('POST', `/api/alerts/${encodeURIComponent(id)}/ack`, { by: me(), comment: $('d-comment').value })
      const item = state.items.get(id)
      if (item) item.acked = r.acked
      toast(r.already ? 'It was already acknowledged.' : 'Acknowledged: its escalations stop.')
      renderList()
      await select(id)
    } catch (err) {
      toast(`Could not acknowledge: ${err.message}`, true)
      renderDetail()
    }
  }

  async function resolveAlert () {
    const id = state.selected
    if (!id) return
    $('d-resolve').disabled = true
    try {
      const r = await api('POST', `/api/alerts/${encodeURIComponent(id)}/resolve`, { by: me(), comment: $('d-comment').value })
      toast(r.note ? `Resolved. ${r.note}.` : `Resolved; notified: ${r.notified.join(', ')}.`)
      await select(id)
    } catch (err) {
      toast(`Could not resolve: ${err.message}`, true)
      renderDetail()
    }
  }

  /** Alertmanager matcher with a quoted value (the same escapes the server's parser reads). */
  function matcher (name, value) {
    const quote = (s) => '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"'
    const n = /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) ? name : quote(name)
    return `${n}=${quote(value)}`
  }

  function openSilenceForm () {
    const a = state.selected && state.items.get(state.selected)
    if (!a) return
    const lines = [matcher('source', a.source)]
    for (const [k, v] of Object.entries(a.labels || {})) if (k !== 'source') lines.push(matcher(k, v))
    $('s-match').value = lines.join('\n')
    $('s-comment').value = $('d-comment').value
    $('silence-form').hidden = false
    preview()
    $('s-match').focus()
  }

  function matchLines () {
    return $('s-match').value.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  }

  let previewTimer = null
  let previewRequest = 0
  function previewSoon () {
    clearTimeout(previewTimer)
    previewTimer = setTimeout(preview, 250)
  }

  async function preview () {
    const box = $('s-preview')
    const lines = matchLines()
    const mine = ++previewRequest
    if (lines.length === 0) {
      clear(box)
      box.className = 'preview error'
      box.textContent = 'A silence needs at least one matcher.'
      $('s-submit').disabled = true
      return
    }
    const p = new URLSearchParams()
    for (const l of lines) p.append('match', l)
    try {
      const r = await api('GET', '/api/silences/preview?' + p.toString())
      if (mine !== previewRequest) return
      if (!r.valid) throw new Error(r.error)
      clear(box)
      box.className = 'preview'
      box.appendChild(el('div', null, 'Silences alerts matching ', r.match.map((m) => el('code', null, m))))
      box.appendChild(el('div', { class: 'muted' }, `${r.recent.matching} of the last ${r.recent.checked} alerts (24 h) match.`))
      if (r.recent.examples.length > 0) {
        box.appendChild(el('ul', null, r.recent.examples.map((e) => el('li', null, `${e.severity} ${e.source}: ${e.title}`))))
      }
      $('s-submit').disabled = false
    } catch (err) {
      if (mine !== previewRequest) return
      clear(box)
      box.className = 'preview error'
      box.textContent = err.message
      $('s-submit').disabled = true
    }
  }

  async function createSilence (ev) {
    ev.preventDefault()
    const body = { match: matchLines(), durationMs: Number($('s-duration').value), comment: $('s-comment').value, createdBy: me() }
    $('s-submit').disabled = true
    try {
      const r = await api('POST', '/api/silences', body)
      toast(`Silenced until ${new Date(r.silence.endsAt).toLocaleString()}.`)
      $('silence-form').hidden = true
      await loadSilences()
    } catch (err) {
      toast(`Could not create the silence: ${err.message}`, true)
    } finally {
      $('s-submit').disabled = false
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Silences

  function renderSilences () {
    const body = $('silence-rows')
    clear(body)
    const active = state.silences.filter((s) => Date.parse(s.endsAt) > Date.now())
    for (const s of active) {
      const expire = el('button', { type: 'button', class: 'danger expire', 'data-id': s.id, disabled: s.origin !== 'store' ? true : undefined, title: s.origin !== 'store' ? 'from the options: cannot be expired here' : undefined }, 'Expire')
      body.appendChild(el('tr', { 'data-id': s.id },
        el('td', { class: 'matchers' }, s.match.map((m) => el('code', null, m))),
        el('td', { title: s.endsAt }, (s.active ? '' : `starts ${fmtRelative(s.startsAt)}, `) + fmtRelative(s.endsAt)),
        el('td', null, s.comment),
        el('td', null, s.createdBy),
        el('td', null, expire)))
    }
    $('no-silences').hidden = active.length > 0
  }

  async function loadSilences () {
    try {
      const r = await api('GET', '/api/silences')
      state.silences = r.silences
      renderSilences()
    } catch (err) {
      toast(`Could not load silences: ${err.message}`, true)
    }
  }

  async function expireSilence (id) {
    try {
      await api('DELETE', `/api/silences/${encodeURIComponent(id)}`)
      toast('Silence expired.')
      await loadSilences()
    } catch (err) {
      toast(`Could not expire the silence: ${err.message}`, true)
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Chart: stacked bars by severity, drawn as SVG.

  function niceMax (n) {
    if (n <= 4) return 4
    const p = Math.pow(10, Math.floor(Math.log10(n)))
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p
    return 10 * p
  }

  function renderChart (summary) {
    const box = $('chart')
    clear(box)
    const W = 960; const H = 180; const L = 36; const R = 8; const T = 8; const B = 22
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'presentation' })
    const buckets = summary.buckets
    const totals = buckets.map((b) => b.info + b.warn + b.critical)
    const max = niceMax(Math.max(0, ...totals))
    const plotW = W - L - R
    const plotH = H - T - B
    const bw = plotW / Math.max(1, buckets.length)
    // y grid
    for (const f of [0, 0.5, 1]) {
      const y = T + plotH - f * plotH
      root.appendChild(svg('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'axis' }))
      root.appendChild(svg('text', { x: L - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, String(Math.round(max * f))))
    }
    const span = buckets.length * summary.bucketMs
    const label = (iso) => {
      const d = new Date(iso)
      return span > 86400000 * 1.5 ? `${d.getMonth() + 1}/${d.getDate()} ${String(d.getHours()).padStart(2, '0')}:00` : `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
    }
    const every = Math.max(1, Math.ceil(buckets.length / 8))
    buckets.forEach((b, i) => {
      const x = L + i * bw
      let y = T + plotH
      const g = svg('g', { class: 'bucket' })
      for (const sev of ['info', 'warn', 'critical']) {
        const n = b[sev]
        if (n === 0) continue
        const h = (n / max) * plotH
        y -= h
        g.appendChild(svg('rect', { x: x + 1, y, width: Math.max(1, bw - 2), height: h, class: `bar-${sev}` }))
      }
      const hover = svg('rect', { x, y: T, width: bw, height: plotH, class: 'hover' })
      hover.appendChild(svg('title', {}, `${new Date(b.start).toLocaleString()}: ${b.critical} critical, ${b.warn} warn, ${b.info} info`))
      g.appendChild(hover)
      root.appendChild(g)
      if (i % every === 0) root.appendChild(svg('text', { x: x + bw / 2, y: H - 6, 'text-anchor': 'middle', class: 'tick' }, label(b.start)))
    })
    box.appendChild(root)
  }

  function renderCounts (stats) {
    const c = $('counts')
    clear(c)
    const s = stats.summary.bySeverity
    for (const sev of SEVERITIES) c.appendChild(el('span', { class: `count sev-${sev}` }, `${s[sev]} ${sev}`))
    c.appendChild(el('span', { class: 'count', title: 'processes that reported live counters in the last minute' }, `${stats.runtime.length} process${stats.runtime.length === 1 ? '' : 'es'}`))
    const queued = stats.runtime.reduce((n, p) => n + Object.values((p.stats && p.stats.channels) || {}).reduce((m, ch) => m + (ch.queued || 0), 0), 0)
    if (queued > 0) c.appendChild(el('span', { class: 'count' }, `${queued} queued`))
  }

  async function loadStats () {
    const until = Date.now()
    const since = until - state.range
    try {
      const stats = await api('GET', `/api/stats?since=${since}&until=${until}&bucketMs=${Math.max(1000, Math.floor(state.range / 60))}`)
      renderChart(stats.summary)
      renderCounts(stats)
    } catch (err) {
      toast(`Could not load stats: ${err.message}`, true)
    }
  }

  function statsSoon () {
    if (state.chartTimer) return
    state.chartTimer = setTimeout(() => { state.chartTimer = null; loadStats() }, 1000)
  }

  // ---------------------------------------------------------------------------------------------
  // Channels & routing: each process writing to the store, its channels' health and its routing
  // (GET /api/processes, live through the `processes` event), and "where would this alert go?"
  // (GET /api/route). Everything shown comes from the API as text; secrets are masked by the server.

  const routing = {
    processes: null, // null until the first answer
    loadError: null,
    lastRoute: null,
    signature: null
  }

  function fmtAge (iso) {
    if (!iso) return ''
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
    if (s < 90) return `${s} s ago`
    if (s < 5400) return `${Math.round(s / 60)} min ago`
    if (s < 172800) return `${Math.round(s / 3600)} h ago`
    return `${Math.round(s / 86400)} d ago`
  }

  function fmtMs (ms) {
    if (typeof ms !== 'number' || !isFinite(ms)) return String(ms)
    if (ms < 1000) return `${ms} ms`
    if (ms < 120000) return `${+(ms / 1000).toFixed(1)} s`
    if (ms < 7200000) return `${+(ms / 60000).toFixed(1)} min`
    return `${+(ms / 3600000).toFixed(1)} h`
  }

  /** A time that keeps its age current ("12 s ago"): the ticker below rewrites every [data-age]. */
  function ageSpan (iso, prefix, cls) {
    return el('span', { class: cls || 'age', 'data-age': iso, 'data-prefix': prefix || '', title: iso ? new Date(iso).toLocaleString() : undefined }, `${prefix || ''}${fmtAge(iso)}`)
  }

  function tickAges () {
    for (const n of document.querySelectorAll('[data-age]')) n.textContent = `${n.getAttribute('data-prefix') || ''}${fmtAge(n.getAttribute('data-age'))}`
    for (const n of document.querySelectorAll('[data-lease]')) {
      const late = Date.now() - Date.parse(n.getAttribute('data-at')) > Number(n.getAttribute('data-lease'))
      n.classList.toggle('late', late)
    }
  }

  const codes = (list) => (Array.isArray(list) ? list : []).map((m) => el('code', null, String(m)))
  const chips = (names, cls) => (Array.isArray(names) ? names : []).map((n) => el('span', { class: `chip ${cls || ''}` }, String(n)))
  const num = (n) => (typeof n === 'number' ? String(n) : '—')

  function circuitBadge (state, enabled) {
    if (state !== 'open' && state !== 'half-open' && state !== 'closed') {
      return el('span', { class: 'muted', title: enabled ? 'no health reported yet' : 'disabled: nothing is delivered to it' }, '—')
    }
    const s = state
    const title = s === 'open' ? 'circuit open: deliveries to this channel fail at once (failover takes them) until a probe succeeds' : s === 'half-open' ? 'half-open: the next delivery is a probe' : 'closed: deliveries go through'
    return el('span', { class: `circuit circuit-${s}`, title }, s)
  }

  function channelTable (p) {
    const channels = Array.isArray(p.channels) ? p.channels : []
    if (channels.length === 0) return el('p', { class: 'muted' }, 'No channels.')
    return el('table', { class: 'channels' },
      el('thead', null, el('tr', null,
        el('th', null, 'Channel'), el('th', null, 'Type'), el('th', null, 'Circuit'),
        el('th', { class: 'n' }, 'Queued'), el('th', { class: 'n' }, 'Delivered'), el('th', { class: 'n' }, 'Failed'),
        el('th', null, 'Last error'), el('th', null, 'Rate limit'), el('th', null, 'Retry'))),
      el('tbody', null, channels.map((c) => {
        const cls = [`state-${String(c.circuit).replace(/[^a-z-]/g, '')}`]
        if (!c.enabled) cls.push('disabled')
        const rl = c.rateLimit ? `${c.rateLimit.perSecond}/s, burst ${c.rateLimit.burst}` : 'unlimited'
        const rt = c.retry ? `${c.retry.maxAttempts} attempt${c.retry.maxAttempts === 1 ? '' : 's'}, ${fmtMs(c.retry.initialMs)} → ${fmtMs(c.retry.maxMs)}` : '—'
        return el('tr', { class: cls.join(' '), 'data-channel': c.name },
          el('td', { class: 'name' }, el('strong', null, String(c.name)), c.enabled ? null : el('span', { class: 'chip suppressed' }, 'disabled')),
          el('td', { class: 'muted' }, String(c.type)),
          el('td', { class: 'circuit-cell' }, circuitBadge(c.circuit, c.enabled)),
          el('td', { class: `n${c.queued > 0 ? ' queued' : ''}` }, num(c.queued)),
          el('td', { class: 'n' }, num(c.delivered)),
          el('td', { class: `n${c.failed > 0 ? ' bad' : ''}` }, num(c.failed)),
          el('td', { class: 'last-error' }, c.lastError
            ? [el('span', { class: 'error-text' }, String(c.lastError)), ' ', c.lastErrorAt ? ageSpan(c.lastErrorAt, '', 'age muted') : null]
            : el('span', { class: 'muted' }, 'none')),
          el('td', { class: 'muted' }, rl),
          el('td', { class: 'muted' }, rt))
      })))
  }

  function intervalNote (name, kind, now) {
    // kind: 'active' (activeTime) or 'mute' (muteTime); now: activeNow / mutedNow
    const label = kind === 'active' ? 'active during ' : 'muted during '
    let chip
    if (kind === 'active') {
      chip = now === null || now === undefined ? el('span', { class: 'chip', title: 'unknown interval' }, '?') : now ? el('span', { class: 'chip ok' }, 'active now') : el('span', { class: 'chip suppressed' }, 'not active now')
    } else {
      chip = now ? el('span', { class: 'chip muted-now' }, 'muted now') : el('span', { class: 'chip suppressed' }, 'not muted now')
    }
    return el('div', { class: 'when' }, label, el('code', null, String(name)), ' ', chip)
  }

  function matrixTable (routes) {
    return el('table', { class: 'matrix' },
      el('thead', null, el('tr', null, el('th', null, 'Severity'), el('th', null, 'Channels'))),
      el('tbody', null, SEVERITIES.map((sev) => {
        const list = routes[sev]
        return el('tr', { 'data-severity': sev },
          el('td', null, el('span', { class: `sev sev-${sev}` }, sev)),
          el('td', null, Array.isArray(list) && list.length > 0 ? chips(list) : el('span', { class: 'muted' }, 'none')))
      })))
  }

  function routingBlock (p) {
    const hasMatrix = p.routes !== null && typeof p.routes === 'object'
    if (Array.isArray(p.rules)) {
      return [rulesTable(p), hasMatrix ? [el('p', { class: 'muted fallback' }, 'An alert that no rule matches goes by the severity matrix:'), matrixTable(p.routes)] : null]
    }
    if (hasMatrix) return matrixTable(p.routes)
    return el('p', { class: 'muted' }, 'Routing not reported.')
  }

  function rulesTable (p) {
    if (p.rules.length === 0) return el('p', { class: 'muted' }, 'No rules: nothing is routed.')
    return el('table', { class: 'rules' },
      el('thead', null, el('tr', null, el('th', null, '#'), el('th', null, 'Matchers'), el('th', null, 'Channels'), el('th', null, 'Continue'), el('th', null, 'When'))),
      el('tbody', null, p.rules.map((r) => {
        const idle = r.activeNow === false || r.mutedNow === true
        const when = []
        if (typeof r.activeTime === 'string') when.push(intervalNote(r.activeTime, 'active', r.activeNow))
        if (typeof r.muteTime === 'string') when.push(intervalNote(r.muteTime, 'mute', r.mutedNow))
        return el('tr', { class: idle ? 'idle' : undefined, 'data-rule': r.index },
          el('td', { class: 'n' }, String(r.index)),
          el('td', { class: 'matchers' }, Array.isArray(r.match) && r.match.length > 0 ? codes(r.match) : el('span', { class: 'muted' }, 'every alert')),
          el('td', null, Array.isArray(r.channels) && r.channels.length > 0 ? chips(r.channels) : el('span', { class: 'muted' }, 'none (drop)')),
          el('td', null, r.continue ? 'yes' : el('span', { class: 'muted' }, 'no')),
          el('td', null, when.length > 0 ? when : el('span', { class: 'muted' }, 'always')))
      })))
  }

  function intervalsBlock (p) {
    const entries = Object.entries(p.timeIntervals || {})
    if (entries.length === 0) return null
    return [el('h3', null, 'Time intervals'),
      el('table', { class: 'intervals' },
        el('tbody', null, entries.map(([name, ti]) => el('tr', { 'data-interval': name },
          el('td', { class: 'name' }, el('code', null, name)),
          el('td', null, ti && ti.activeNow ? el('span', { class: 'chip ok' }, 'active now') : ti && ti.activeNow === false ? el('span', { class: 'chip suppressed' }, 'not active now') : el('span', { class: 'chip', title: 'could not be evaluated' }, '?')),
          el('td', { class: 'mono spec' }, ti && ti.spec !== undefined ? JSON.stringify(ti.spec) : '')))))]
  }

  function failoverBlock (p) {
    const list = Array.isArray(p.failover) ? p.failover : []
    return el('div', { class: 'failover' }, el('span', { class: 'what' }, 'Failover'),
      list.length > 0 ? list.map((n, i) => [i > 0 ? el('span', { class: 'muted' }, ' → ') : null, el('span', { class: 'chip' }, String(n))]) : el('span', { class: 'muted' }, 'none'))
  }

  function inhibitBlock (p) {
    const list = Array.isArray(p.inhibit) ? p.inhibit : []
    if (list.length === 0) return null
    return [el('h3', null, 'Inhibit rules'),
      el('table', { class: 'inhibit' },
        el('thead', null, el('tr', null, el('th', null, '#'), el('th', null, 'While firing'), el('th', null, 'Hold back'), el('th', null, 'Equal labels'), el('th', null, 'Window'))),
        el('tbody', null, list.map((r, i) => el('tr', null,
          el('td', { class: 'n' }, String(i)),
          el('td', { class: 'matchers' }, codes(r.source)),
          el('td', { class: 'matchers' }, codes(r.target)),
          el('td', null, Array.isArray(r.equal) && r.equal.length > 0 ? codes(r.equal) : el('span', { class: 'muted' }, '—')),
          el('td', null, fmtMs(r.windowMs))))))]
  }

  function openCircuits (p) {
    return (Array.isArray(p.channels) ? p.channels : []).filter((c) => c.circuit === 'open').length
  }

  function processCard (p) {
    const open = openCircuits(p)
    const status = p.alive
      ? el('span', { class: 'chip ok alive' }, 'alive')
      : el('span', { class: 'chip suppressed dead' }, p.endedAt ? 'ended' : 'not responding')
    const where = [p.host ? String(p.host) : null, p.pid !== undefined && p.pid !== null ? `pid ${p.pid}` : null].filter(Boolean).join(' · ')
    const head = el('div', { class: 'process-head' },
      el('h2', { class: 'process-name' }, String(p.process)),
      status,
      open > 0 ? el('span', { class: 'circuit circuit-open' }, `${open} circuit${open === 1 ? '' : 's'} open`) : null,
      el('span', { class: 'spacer' }),
      where ? el('span', { class: 'muted where' }, where) : null,
      p.alive
        ? el('span', { class: 'heartbeat', 'data-at': p.at, 'data-lease': typeof p.leaseMs === 'number' ? p.leaseMs : undefined }, ageSpan(p.at, 'last heartbeat ', 'age'))
        : el('span', { class: 'muted' }, p.endedAt ? ageSpan(p.endedAt, 'ended ', 'age') : ageSpan(p.at, 'last heartbeat ', 'age')))
    return el('article', { class: `panel process${p.alive ? '' : ' dead'}${open > 0 ? ' has-open' : ''}`, 'data-process': p.process, 'aria-label': `Process ${p.process}` },
      head,
      p.error ? el('p', { class: 'error process-error' }, `Its configuration record cannot be read: ${p.error}`) : null,
      el('h3', null, 'Channels'),
      channelTable(p),
      el('h3', null, Array.isArray(p.rules) ? 'Rules' : 'Routes (severity matrix)'),
      routingBlock(p),
      intervalsBlock(p),
      el('h3', null, 'Failover and inhibition'),
      failoverBlock(p),
      inhibitBlock(p))
  }

  /** The processes without their heartbeat times: when only those changed, the cards stay (and keep a selection). */
  function processesSignature (list) {
    return JSON.stringify(list.map((p) => Object.assign({}, p, { at: undefined })))
  }

  function renderProcesses () {
    const list = routing.processes
    const box = $('processes')
    const none = $('no-processes')
    if (list !== null) {
      const sig = processesSignature(list)
      if (sig === routing.signature) {
        for (const p of list) {
          const hb = document.querySelector(`article.process[data-process="${CSS.escape(p.process)}"] .heartbeat`)
          if (hb) hb.setAttribute('data-at', p.at)
          const age = hb && hb.querySelector('[data-age]')
          if (age) { age.setAttribute('data-age', p.at); age.setAttribute('title', new Date(p.at).toLocaleString()) }
        }
        tickAges()
        return
      }
      routing.signature = sig
    } else {
      routing.signature = null
    }
    clear(box)
    if (list === null) {
      none.hidden = false
      none.textContent = routing.loadError ? `Could not load the processes: ${routing.loadError}` : 'Loading the processes that write to this store…'
      return
    }
    const alive = list.filter((p) => p.alive)
    const gone = list.filter((p) => !p.alive)
    for (const p of alive) box.appendChild(processCard(p))
    none.hidden = alive.length > 0
    none.textContent = gone.length > 0 ? 'No process writing to this store is alive now.' : 'No process has written to this store yet. A process appears here once it stores its first alert.'
    const ended = $('ended-processes')
    ended.hidden = gone.length === 0
    $('ended-summary').textContent = `${gone.length} process${gone.length === 1 ? '' : 'es'} no longer running`
    const endedList = $('ended-list')
    clear(endedList)
    for (const p of gone) endedList.appendChild(processCard(p))

    const open = alive.reduce((n, p) => n + openCircuits(p), 0)
    const queued = alive.reduce((n, p) => n + (Array.isArray(p.channels) ? p.channels : []).reduce((m, c) => m + (c.queued || 0), 0), 0)
    const parts = [`${alive.length} live process${alive.length === 1 ? '' : 'es'}`]
    if (open > 0) parts.push(`${open} open circuit${open === 1 ? '' : 's'}`)
    if (queued > 0) parts.push(`${queued} queued`)
    $('proc-summary').textContent = parts.join(' · ')
    const badge = $('tab-badge')
    badge.hidden = open === 0
    badge.textContent = open > 0 ? `${open} open` : ''
    badge.title = open > 0 ? `${open} channel circuit${open === 1 ? '' : 's'} open` : ''
    if (routing.lastRoute) renderRoute(routing.lastRoute)
  }

  async function loadProcesses () {
    try {
      const r = await api('GET', '/api/processes')
      routing.processes = Array.isArray(r.processes) ? r.processes : []
      routing.loadError = null
    } catch (err) {
      routing.loadError = err.message
    }
    renderProcesses()
  }

  /** "desk=fx, venue = xetra" → "desk=fx,venue=xetra" (the API's form); an entry without "=" is left for the server to refuse. */
  function labelsParam (text) {
    return text.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
      const i = s.indexOf('=')
      return i < 0 ? s : `${s.slice(0, i).trim()}=${s.slice(i + 1).trim()}`
    }).join(',')
  }

  function processById (id) {
    return (routing.processes || []).find((p) => p.process === id)
  }

  function routeRow (r) {
    const p = processById(r.process)
    if (r.error) {
      return el('tr', { 'data-process': r.process },
        el('td', { class: 'name' }, String(r.process)),
        el('td', { colspan: 3, class: 'error' }, String(r.error)))
    }
    const channels = Array.isArray(r.channels) ? r.channels : []
    // `routed`: what the routing picks, silence and inhibition aside; `channels`: what would be notified now.
    const routed = Array.isArray(r.routed) ? [...r.routed] : [...channels]
    // A muted rule's channels are not routed: shown struck through, as what the mute holds back.
    const mutedRule = r.muted && p && Array.isArray(p.rules) ? p.rules.find((x) => x.index === r.muted.rule) : undefined
    if (mutedRule && Array.isArray(mutedRule.channels)) for (const name of mutedRule.channels) if (!routed.includes(name)) routed.push(name)
    const held = r.muted || r.silencedBy || r.inhibitedBy
    const goes = routed.length > 0
      ? routed.map((name) => {
        const c = p && Array.isArray(p.channels) ? p.channels.find((x) => x.name === name) : undefined
        const open = c && c.circuit === 'open'
        const struck = !channels.includes(name)
        return el('span', { class: `chip route-channel${struck ? ' struck' : ''}${open ? ' failed' : ''}`, title: struck ? 'held back: not notified now' : open ? 'circuit open: failover would take it' : undefined }, open ? `${name} (circuit open)` : String(name))
      })
      : el('span', { class: 'muted' }, 'no channel')
    let matched
    if (typeof r.rule === 'number') {
      const rule = p && Array.isArray(p.rules) ? p.rules.find((x) => x.index === r.rule) : undefined
      matched = [el('span', { class: 'rule' }, `rule #${r.rule}`), rule && Array.isArray(rule.match) && rule.match.length > 0 ? el('span', { class: 'matchers' }, ' ', codes(rule.match)) : rule ? el('span', { class: 'muted' }, ' (every alert)') : null]
    } else {
      const rules = p && Array.isArray(p.rules)
      matched = rules
        ? [el('span', { class: 'muted' }, 'no rule matched'), channels.length > 0 ? ' → severity matrix' : null]
        : el('span', { class: 'rule' }, 'severity matrix')
    }
    const verdict = []
    if (r.muted) verdict.push(el('div', null, el('span', { class: 'chip muted-now' }, 'muted'), ` by rule #${r.muted.rule} ${r.muted.why === 'activeTime' ? 'outside' : 'during'} `, el('code', null, String(r.muted.interval))))
    if (r.silencedBy) verdict.push(el('div', null, el('span', { class: 'chip suppressed' }, 'silenced'), ' by silence ', el('code', { class: 'silence-id' }, String(r.silencedBy.id)), ' ', codes(r.silencedBy.match)))
    if (r.inhibitedBy) verdict.push(el('div', null, el('span', { class: 'chip suppressed' }, 'inhibited'), ` by inhibit rule #${r.inhibitedBy.rule}, source alert `, el('code', null, String(r.inhibitedBy.sourceAlertId))))
    if (verdict.length === 0) verdict.push(channels.length > 0 ? el('span', { class: 'chip ok' }, 'sent') : el('span', { class: 'chip' }, 'dropped: no channel'))
    return el('tr', { 'data-process': r.process, class: held ? 'held' : undefined },
      el('td', { class: 'name' }, String(r.process)),
      el('td', { class: 'goes' }, goes),
      el('td', { class: 'matched' }, matched),
      el('td', { class: 'verdict' }, verdict))
  }

  function renderRoute (data) {
    const box = $('r-result')
    clear(box)
    const a = data.alert || {}
    const labels = Object.entries(a.labels || {}).map(([k, v]) => el('code', null, `${k}=${v}`))
    box.appendChild(el('p', { class: 'route-for' },
      'A ', el('span', { class: `sev sev-${SEVERITIES.includes(a.severity) ? a.severity : 'info'}` }, String(a.severity || '')),
      ' alert from ', el('strong', null, String(a.source || '')),
      a.title ? [' titled “', String(a.title), '”'] : null,
      labels.length > 0 ? [' with ', labels] : null,
      el('span', { class: 'muted' }, ` — as of ${new Date(data.at || Date.now()).toLocaleTimeString()}`)))
    const procs = Array.isArray(data.processes) ? data.processes : []
    if (procs.length === 0) {
      box.appendChild(el('p', { class: 'muted' }, 'No live process would receive it.'))
      return
    }
    box.appendChild(el('table', { class: 'route' },
      el('thead', null, el('tr', null, el('th', null, 'Process'), el('th', null, 'Goes to'), el('th', null, 'Matched by'), el('th', null, 'Outcome'))),
      el('tbody', null, procs.map(routeRow))))
  }

  let routeRequest = 0
  async function checkRoute (ev) {
    if (ev) ev.preventDefault()
    const p = new URLSearchParams()
    p.set('severity', $('r-severity').value)
    p.set('source', $('r-source').value.trim())
    p.set('title', $('r-title').value.trim())
    const labels = labelsParam($('r-labels').value)
    if (labels !== '') p.set('labels', labels)
    const mine = ++routeRequest
    const errBox = $('r-error')
    $('r-submit').disabled = true
    try {
      const r = await api('GET', '/api/route?' + p.toString())
      if (mine !== routeRequest) return
      errBox.hidden = true
      errBox.textContent = ''
      r.at = Date.now()
      routing.lastRoute = r
      renderRoute(r)
    } catch (err) {
      if (mine !== routeRequest) return
      errBox.textContent = err.message
      errBox.hidden = false
      routing.lastRoute = null
      clear($('r-result'))
    } finally {
      if (mine === routeRequest) $('r-submit').disabled = false
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Views: #alerts (default) and #routing, switched by the links in the header (no reload).

  function showView (focus) {
    const routingView = location.hash === '#routing'
    $('view-alerts').hidden = routingView
    $('view-routing').hidden = !routingView
    const on = routingView ? $('tab-routing') : $('tab-alerts')
    const off = routingView ? $('tab-alerts') : $('tab-routing')
    on.setAttribute('aria-current', 'page')
    off.removeAttribute('aria-current')
    if (routingView && routing.processes === null) loadProcesses()
    if (focus && routingView) $('routing-title').focus()
  }

  // ---------------------------------------------------------------------------------------------
  // Live updates

  function connect () {
    const live = $('live')
    const es = new EventSource('/events')
    es.addEventListener('hello', (e) => {
      live.textContent = 'live'
      live.className = 'live on'
      const d = JSON.parse(e.data)
      state.silences = d.silences
      renderSilences()
      // (Re)connected: the processes may have changed meanwhile.
      loadProcesses()
    })
    es.addEventListener('processes', (e) => {
      const d = JSON.parse(e.data)
      routing.processes = Array.isArray(d.processes) ? d.processes : []
      routing.loadError = null
      renderProcesses()
    })
    es.addEventListener('alert', (e) => {
      const item = JSON.parse(e.data)
      const known = state.items.has(item.id)
      remember(item)
      if (!known) freshIds.add(item.id)
      renderList()
      statsSoon()
      if (state.detail && state.detail.resolvedBy === null && item.status === 'resolved' && item.fingerprint === state.detail.alert.fingerprint) refreshDetailSoon(state.selected)
    })
    es.addEventListener('update', (e) => {
      const item = JSON.parse(e.data)
      remember(item)
      renderList()
      refreshDetailSoon(item.id)
    })
    es.addEventListener('ack', (e) => {
      const d = JSON.parse(e.data)
      const item = state.items.get(d.id)
      if (item) { item.acked = d.acked; renderList() }
      if (state.selected === d.id) refreshDetailSoon(d.id)
    })
    es.addEventListener('silences', (e) => {
      state.silences = JSON.parse(e.data).silences
      renderSilences()
    })
    es.onerror = () => {
      live.textContent = 'reconnecting…'
      live.className = 'live off'
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring

  function init () {
    $('me').value = localStorage.getItem('pino-alerts.me') || ''
    $('me').addEventListener('change', () => localStorage.setItem('pino-alerts.me', $('me').value.trim()))

    let filterTimer = null
    const refilter = () => { clearTimeout(filterTimer); filterTimer = setTimeout(loadList, 200) }
    for (const id of ['f-severity', 'f-status']) $(id).addEventListener('change', loadList)
    for (const id of ['f-source', 'f-q']) $(id).addEventListener('input', refilter)
    $('filters').addEventListener('submit', (e) => { e.preventDefault(); loadList() })
    $('filters').addEventListener('reset', () => setTimeout(loadList, 0))

    $('alert-rows').addEventListener('click', (e) => {
      const tr = e.target.closest('tr[data-id]')
      if (tr) select(tr.getAttribute('data-id'))
    })
    $('more').addEventListener('click', loadOlder)
    $('d-close').addEventListener('click', () => { state.selected = null; state.detail = null; renderDetail(); renderList() })
    $('d-ack').addEventListener('click', ack)
    $('d-resolve').addEventListener('click', resolveAlert)
    $('d-silence').addEventListener('click', openSilenceForm)
    $('s-cancel').addEventListener('click', () => { $('silence-form').hidden = true })
    $('s-match').addEventListener('input', previewSoon)
    $('silence-form').addEventListener('submit', createSilence)
    $('silence-rows').addEventListener('click', (e) => {
      const b = e.target.closest('button.expire')
      if (b && !b.disabled) expireSilence(b.getAttribute('data-id'))
    })
    $('range').addEventListener('change', () => { state.range = Number($('range').value); loadStats() })
    $('route-form').addEventListener('submit', checkRoute)
    window.addEventListener('hashchange', () => showView(true))
    showView(false)

    api('GET', '/api/session').then((s) => {
      state.session = s
      $('logout').hidden = !s.auth
    }).catch(() => {})

    connect()
    loadList()
    loadSilences()
    loadStats()
    setInterval(loadStats, 30000)
    setInterval(renderSilences, 30000)
    setInterval(tickAges, 1000)
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init)
  else init()
})()
