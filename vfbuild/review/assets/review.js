// vf review: renders the contact sheet from the library's answers (/api/sheet, /api/plan),
// picks through POST /api/pick (Film.pick, as `vf pick`), and starts and follows a build.
// Plain JS, no build step; every text from the film goes in through textContent.
"use strict";

(function () {
  const config = JSON.parse(document.querySelector('meta[name="vf-config"]').content);
  const token = document.querySelector('meta[name="vf-token"]').content;
  const live = config.mode === "live";
  const state = { sheet: null, plan: null, compare: new Map(), building: false, seq: 0, made: 0, planned: 0 };

  // -- small helpers --------------------------------------------------------------------------
  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return node;
  }
  const $ = (id) => document.getElementById(id);
  const vtag = (v) => (v ? "v" + String(v).padStart(3, "0") : "new");
  const ttag = (t) => "t" + String(t).padStart(2, "0");
  const mediaUrl = (file) => config.media + file.split("/").map(encodeURIComponent).join("/");
  const thumbUrl = (sha) => config.thumb + sha + config.thumbExt;
  const money = (x) => "$" + Number(x).toFixed(2);

  let toastTimer = null;
  function toast(text, isError) {
    const t = $("toast");
    t.textContent = text;
    t.className = "toast" + (isError ? " err" : "");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => t.classList.add("hidden"), isError ? 9000 : 4000);
  }

  async function getJSON(url) {
    const r = await fetch(url, { cache: "no-store" });
    const data = await r.json();
    if (!r.ok) throw new Error(data.error || r.statusText);
    return data;
  }

  async function post(url, body) {
    const r = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-VF-Token": token },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await r.json(); } catch (e) { data = { error: r.statusText }; }
    if (!r.ok || !data.ok) throw new Error(data.error || r.statusText);
    return data;
  }

  // -- the header ---------------------------------------------------------------------------
  function renderHeader(sheet) {
    document.title = sheet.title + " · vf review";
    $("title").textContent = sheet.title;
    const c = sheet.counts;
    $("meta").textContent = `${c.shots} shot${c.shots === 1 ? "" : "s"} · ${sheet.fps} fps · ${c.takes} take${c.takes === 1 ? "" : "s"} made`;
    const chips = $("chips");
    chips.replaceChildren();
    if (c.missing_picks) chips.append(el("span", { class: "chip warn", text: `${c.missing_picks} pick${c.missing_picks === 1 ? "" : "s"} to make` }));
    if (c.out_of_date) chips.append(el("span", { class: "chip bad", text: `${c.out_of_date} pick${c.out_of_date === 1 ? "" : "s"} out of date` }));
    const waiting = sheet.shots.filter((s) => s.waits_for).length;
    if (!c.missing_picks && !c.out_of_date) chips.append(el("span", { class: "chip ok", text: "every pick made" }));
    chips.append(el("span", { class: "chip info", text: waiting ? `${sheet.shots.length - waiting} of ${sheet.shots.length} shots finished` : "every shot finished" }));
  }

  function renderCut(sheet) {
    const box = $("cut");
    box.replaceChildren();
    const cut = sheet.cut;
    if (!cut) {
      box.append(el("div", { class: "empty", text: "No cut yet: `vf build` ends in a rough cut in 06_Edit/." }));
      return;
    }
    const edit = sheet.film_steps.find((e) => e.step === "edit");
    const rough = sheet.shots.filter((s) => s.waits_for).map((s) => s.id);
    const video = el("video", { controls: true, preload: "metadata", playsinline: true, src: mediaUrl(cut.file) });
    const sub = [];
    sub.push(cut.file);
    if (edit && edit.status !== "done") sub.push("out of date: a build makes the next version");
    box.append(
      video,
      el("div", { class: "cap" },
        el("span", { class: "name", text: (rough.length ? "Rough cut " : "Cut ") + vtag(cut.version) }),
        el("span", { class: "sub", text: sub.join(" · ") }),
        rough.length ? el("span", { class: "sub", text: "rough: " + rough.join(", ") }) : null),
    );
  }

  // The film at a glance: each shot's picked (else first) still, in film order. Its box
  // scrolls: a frame's image is asked for when it scrolls into the box, not before (the
  // browser's lazy loading counts the window, not the box: a 1000-shot film asked for all).
  let boardWatch = null;
  const BOARD_EAGER = 15;
  function renderBoard(sheet) {
    const box = $("board");
    box.replaceChildren(el("h2", {}, el("span", { text: "Storyboard" }), el("span", { text: `${sheet.shots.length} shots` })));
    const grid = el("div", { class: "board-grid" });
    if (boardWatch) boardWatch.disconnect();
    boardWatch = "IntersectionObserver" in window
      ? new IntersectionObserver((entries) => {
        for (const en of entries) {
          if (!en.isIntersecting) continue;
          en.target.src = en.target.dataset.src;
          boardWatch.unobserve(en.target);
        }
      }, { root: grid, rootMargin: "60px" })
      : null;
    for (const shot of sheet.shots) {
      const still = shot.steps.find((e) => e.kind === "image" && e.picked_step);
      const takes = still ? still.takes.concat(still.earlier.flatMap((g) => g.takes)) : [];
      const t = takes.find((x) => x.picked && x.sha256) || takes.find((x) => x.sha256);
      const w = shot.waits_for;
      const frame = el("a", { class: "frame" + (w ? " " + (w.who === "you" ? "you" : w.who) : " ready"), href: "#shot-" + shot.id, title: w ? `${shot.id}: waits for ${w.text}` : `${shot.id}: finished` },
        t ? el("img", { "data-src": thumbUrl(t.sha256), decoding: "async", alt: shot.id }) : el("span", { class: "none" }),
        el("span", { class: "fid", text: shot.id }));
      const img = frame.querySelector("img");
      // The first frames are in the box's view: asked for at once, the others as they scroll in.
      if (img && boardWatch && grid.children.length >= BOARD_EAGER) boardWatch.observe(img);
      else if (img) img.src = img.dataset.src;
      grid.append(frame);
    }
    box.append(grid);
  }

  function renderPlan(plan) {
    const box = $("plan");
    box.replaceChildren();
    if (!plan) return;
    const sum = $("plan-sum");
    sum.replaceChildren();
    if (!plan.rows.length) {
      sum.append("Nothing to build: up to date");
    } else {
      sum.append("A build makes ", el("b", { text: `${plan.takes} take${plan.takes === 1 ? "" : "s"}` }), " · ",
        el("b", { text: money(plan.cost) + (plan.unpriced.length ? "+?" : "") }));
    }
    box.append(el("h2", {}, el("span", { text: "What a build would do" }), el("span", { text: $("tier").value + " tier" })));
    if (!plan.rows.length) {
      box.append(el("div", { class: "nothing", text: "Everything is up to date." }));
      return;
    }
    // What a build makes first, then the picks it waits for; steps that only wait for an
    // input the build makes are counted, not listed.
    const making = plan.rows.filter((r) => r.to_make > 0);
    const picks = plan.rows.filter((r) => !r.to_make && (r.status === "needs-pick" || r.status === "error"));
    const rest = plan.rows.length - making.length - picks.length;
    const list = el("ul");
    for (const r of making.concat(picks)) {
      const what = r.to_make ? `${r.to_make} take${r.to_make === 1 ? "" : "s"} · ${r.cost_known ? money(r.cost) : "$?"}` : "";
      list.append(el("li", { class: r.to_make ? "" : "dim", title: r.reasons.join("; ") },
        el("span", { class: "who", text: r.name }),
        el("span", { class: "st " + r.status, text: r.step }),
        el("span", { class: "why", text: r.reasons.join("; ") || r.status }),
        el("span", { class: "what", text: what })));
    }
    box.append(list);
    if (rest > 0) box.append(el("div", { class: "more", text: `+ ${rest} step${rest === 1 ? "" : "s"} waiting for their inputs` }));
  }

  // -- shots and takes ----------------------------------------------------------------------
  // A card's thumbnail is asked for when the card comes within 600 px of the window: the
  // browser's own lazy loading starts well over a thousand pixels ahead, and the six
  // connections it has to this server then serve cards below the fold before those in view.
  const thumbWatch = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
      for (const en of entries) {
        if (!en.isIntersecting) continue;
        en.target.src = en.target.dataset.src;
        thumbWatch.unobserve(en.target);
      }
    }, { rootMargin: "600px 0px" })
    : null;

  let eager = false; // the first shots' thumbnails are asked for at once: they are in view
  function thumbImg(sha, alt) {
    const img = el("img", { decoding: "async", alt: alt });
    if (thumbWatch && !eager) {
      img.dataset.src = thumbUrl(sha);
      thumbWatch.observe(img);
    } else {
      img.src = thumbUrl(sha);
    }
    return img;
  }

  function stepClass(e) {
    if (e.picked_step && e.status === "done" && !e.pick) return "unpicked";
    if (e.pick && e.pick.out_of_date) return "unpicked";
    return e.status;
  }

  function renderShot(shot) {
    const pipe = el("div", { class: "pipe" });
    for (const e of shot.steps) {
      let label = e.step;
      if (e.pick) label += " · " + ttag(e.pick.take);
      pipe.append(el("div", { class: "p " + stepClass(e), title: e.reasons.join("; ") || e.status, text: label }));
    }
    const w = shot.waits_for;
    const wait = w
      ? el("div", { class: "wait " + (w.who === "you" ? "" : w.who) }, "waits for: ", el("b", { text: w.text }))
      : el("div", { class: "wait ready", text: "finished" });
    const head = el("div", { class: "shot-head" },
      el("div", { class: "sid", text: shot.id }),
      el("div", { class: "dur", text: `${Number(shot.duration).toFixed(1)} s` }),
      wait, pipe);
    const steps = el("div", { class: "steps" });
    let outputs = null; // single-output steps (final, upscale, …) share one row
    for (const e of shot.steps) {
      if (!e.takes.length && !e.earlier.length) continue;
      if (e.picked_step) {
        outputs = null;
        steps.append(renderStep(shot, e, false));
        continue;
      }
      if (!outputs) {
        outputs = el("div", { class: "outputs" });
        steps.append(outputs);
      }
      outputs.append(renderStep(shot, e, true));
    }
    if (!steps.children.length) steps.append(el("div", { class: "step" }, el("p", { class: "prompt", text: "No takes yet: `vf build` makes them." })));
    return el("article", { class: "shot", id: "shot-" + shot.id, "data-shot": shot.id }, head, steps);
  }

  function renderStep(shot, e, compact) {
    const key = shot.id + "/" + e.step;
    const comparing = state.compare.get(key);
    const older = e.earlier.find((g) => g.version === comparing);
    const head = el("div", { class: "step-head" },
      el("span", { class: "sname", text: e.step }),
      el("span", { class: "ver", text: vtag(e.version) }));
    if (e.pick && e.pick.out_of_date) {
      const why = e.notes.find((n) => n.startsWith("pick is out of date")) || "";
      head.append(el("span", { class: "badge stale-pick", title: why, text: `pick out of date: ${ttag(e.pick.take)} of ${vtag(e.pick.version)} stays in force` }));
    } else if (e.pick) {
      head.append(el("span", { class: "badge picked", text: `★ picked ${ttag(e.pick.take)}` }));
    } else if (e.missing_pick) {
      head.append(el("span", { class: "badge missing", text: "no pick yet" }));
    }
    if (e.status !== "done") head.append(el("span", { class: "st " + e.status, text: e.status, title: e.reasons.join("; ") }));
    if (e.earlier.length) {
      const vs = el("div", { class: "versions" }, el("span", { class: "lbl", text: "compare" }));
      for (const g of e.earlier) {
        vs.append(el("button", {
          class: comparing === g.version ? "on" : "",
          text: vtag(g.version),
          title: `show ${vtag(g.version)} beside ${vtag(e.version)}`,
          onclick: () => {
            if (state.compare.get(key) === g.version) state.compare.delete(key);
            else state.compare.set(key, g.version);
            rerenderShot(shot.id);
          },
        }));
      }
      head.append(vs);
    }
    const section = el("section", { class: "step" + (older ? " comparing" : "") + (compact ? " compact" : ""), "data-step": e.step }, head);
    if (e.prompt && !compact) {
      const p = el("p", { class: "prompt", title: "click to show it all" }, e.prompt);
      if (e.negative) p.append(el("span", { class: "neg", text: "  —  not: " + e.negative }));
      p.addEventListener("click", () => p.classList.toggle("open"));
      section.append(p);
    }
    // The out-of-date badge says what that note says; other notes are shown as they are.
    for (const note of e.notes) {
      if (e.pick && e.pick.out_of_date && note.startsWith("pick is out of date")) continue;
      section.append(el("p", { class: "note", text: note }));
    }
    const compare = el("div", { class: "compare" });
    compare.append(el("div", {},
      el("div", { class: "col-head", text: `${vtag(e.version)} · current` }),
      renderCards(shot, e, e.takes)));
    if (older) {
      compare.append(el("div", {},
        el("div", { class: "col-head", text: `${vtag(older.version)} · earlier` }),
        renderCards(shot, e, older.takes)));
    }
    section.append(compare);
    // An out-of-date pick is shown even when its version is not being compared.
    if (!older && e.pick && e.pick.out_of_date) {
      const pickedOld = e.earlier.flatMap((g) => g.takes).filter((t) => t.picked);
      if (pickedOld.length) {
        section.append(el("div", { class: "col-head in-force", text: "the pick in force (its recipe is no longer the current one)" }),
          renderCards(shot, e, pickedOld));
      }
    }
    return section;
  }

  function renderCards(shot, e, takes) {
    const box = el("div", { class: "cards" });
    for (const t of takes) box.append(renderCard(shot, e, t));
    return box;
  }

  function renderCard(shot, e, t) {
    const media = el("div", { class: "media" });
    if (t.file && t.sha256 && e.kind === "image") {
      media.append(thumbImg(t.sha256, `${shot.id} ${e.step} ${vtag(t.version)} ${ttag(t.take)}`));
    } else if (t.file && t.sha256 && e.kind === "video") {
      // The poster is a lazy image: a <video poster> is fetched at once, for every clip of the
      // film. The clip itself plays while the pointer is over it.
      media.append(thumbImg(t.sha256, `${shot.id} ${e.step} ${vtag(t.version)} ${ttag(t.take)}`),
        el("span", { class: "kind", text: "▶ clip" }));
      let v = null;
      media.addEventListener("mouseenter", () => {
        v = el("video", { class: "hover", muted: true, autoplay: true, loop: true, playsinline: true, src: mediaUrl(t.file) });
        v.muted = true;
        media.append(v);
        v.play().catch(() => {});
      });
      media.addEventListener("mouseleave", () => { if (v) { v.pause(); v.remove(); v = null; } });
    } else if (t.file) {
      media.append(el("div", { class: "none", text: e.kind }));
    } else {
      media.append(el("div", { class: "none", text: "not made yet" }));
    }
    if (t.file) media.addEventListener("click", () => openViewer(shot, e, t));
    const multi = e.picked_step;
    media.append(el("span", { class: "tag", text: multi ? ttag(t.take) : vtag(t.version) }));
    if (t.picked) media.append(el("span", { class: "star", text: "★ PICKED" }));
    const cost = t.cost === null ? (t.provider === "local" || t.provider === "" ? "free" : "—") : money(t.cost);
    const cap = el("figcaption", { class: "cap" },
      el("div", { class: "l1" },
        el("span", { class: "seed", text: (t.current ? "" : vtag(t.version) + " · ") + (t.seed === null ? "no seed" : "seed " + t.seed) }),
        el("span", { class: "cost" + (t.cost ? " paid" : ""), text: cost, title: t.cost === null ? "no paid job in ledger.csv" : "ledger.csv" })),
      el("div", { class: "l2", title: `${t.provider} · ${t.model}${t.tier ? " · " + t.tier + " tier" : ""}`, text: `${t.provider || "?"} · ${t.model || "?"}` }));
    if (multi) cap.append(renderAction(shot, e, t));
    return el("figure", { class: "card" + (t.picked ? " picked" : "") + (t.current ? "" : " older"), title: t.prompt || "", "data-take": t.take, "data-version": t.version || "" }, media, cap);
  }

  function pickCommand(shot, e, t) {
    let cmd = `vf pick ${shot.id} ${e.step} ${t.take}`;
    if (!t.current) cmd += ` --version ${t.version}`;
    return cmd;
  }

  function renderAction(shot, e, t) {
    const act = el("div", { class: "act" });
    if (!live) {
      const cmd = pickCommand(shot, e, t);
      const code = el("code", { text: cmd, title: cmd });
      const copy = el("button", { text: "copy", title: "copy the command", onclick: () => copyText(cmd, code) });
      act.append(el("div", { class: "cmd" }, code, copy));
      if (t.picked) act.prepend(el("span", { class: "isPicked star-only", text: "★" }));
      return act;
    }
    if (t.picked) {
      act.append(el("span", { class: "isPicked", text: "★ Picked" }));
      return act;
    }
    const btn = el("button", { class: "pick", text: "Pick", disabled: !t.file, title: pickCommand(shot, e, t) });
    btn.addEventListener("click", () => doPick(shot.id, e.step, t, btn));
    act.append(btn);
    return act;
  }

  function copyText(text, code) {
    const done = () => toast("copied: " + text);
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => selectText(code));
    } else {
      selectText(code);
    }
  }

  function selectText(node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    try { if (document.execCommand("copy")) { toast("copied: " + node.textContent); return; } } catch (e) { /* fall through */ }
    toast("selected: press Ctrl-C to copy");
  }

  // The first shots are drawn at once (what the window shows); every other shot is a row of
  // the right height that is drawn as it comes near the window. A film of a thousand cards
  // opens as fast as one of fifty, and scrolls without building what is never looked at.
  const FIRST = 3;
  let observer = null;
  function renderShots(sheet) {
    const main = $("shots");
    if (observer) observer.disconnect();
    observer = "IntersectionObserver" in window
      ? new IntersectionObserver(drawNear, { rootMargin: "800px 0px" })
      : null;
    eager = true;
    const first = sheet.shots.slice(0, FIRST).map(renderShot);
    eager = false;
    main.replaceChildren(...first, ...sheet.shots.slice(FIRST).map((shot) => (observer ? placeholder(shot) : renderShot(shot))));
  }

  function placeholder(shot) {
    const node = el("article", { class: "shot pending", id: "shot-" + shot.id, "data-shot": shot.id },
      el("div", { class: "shot-head" }, el("div", { class: "sid", text: shot.id })), el("div", { class: "steps" }));
    let rows = 0;
    let outputs = false;
    for (const e of shot.steps) {
      if (!e.takes.length && !e.earlier.length) continue;
      if (e.picked_step) rows += 1;
      else outputs = true;
    }
    node.style.minHeight = Math.max(190, 300 * rows + (outputs ? 260 : 0)) + "px";
    observer.observe(node);
    return node;
  }

  function drawNear(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      const shot = state.sheet.shots.find((s) => s.id === entry.target.dataset.shot);
      if (shot && entry.target.isConnected) entry.target.replaceWith(renderShot(shot));
    }
  }

  function rerenderShot(id) {
    const shot = state.sheet.shots.find((s) => s.id === id);
    const old = document.getElementById("shot-" + id);
    // A shot not drawn yet is drawn from the new sheet when it comes near.
    if (shot && old && !old.classList.contains("pending")) old.replaceWith(renderShot(shot));
  }

  function renderAll() {
    renderHeader(state.sheet);
    renderCut(state.sheet);
    renderShots(state.sheet);
    renderBoard(state.sheet);
    document.body.dataset.ready = "1";
    performance.mark("vf-sheet-shown"); // what the window shows is drawn
  }

  // -- the viewer ----------------------------------------------------------------------------
  function openViewer(shot, e, t) {
    const v = $("viewer");
    v.replaceChildren();
    const full = e.kind === "image"
      ? el("img", { src: mediaUrl(t.file), alt: t.file })
      : el("video", { src: mediaUrl(t.file), controls: true, autoplay: true, loop: true, playsinline: true });
    full.addEventListener("click", (ev) => ev.stopPropagation());
    const words = [`${shot.id} ${e.step} ${vtag(t.version)} ${ttag(t.take)}`, t.seed === null ? null : `seed ${t.seed}`, `${t.provider} · ${t.model}`, t.file];
    v.append(el("div", {}, full, el("div", { class: "vcap" },
      el("div", { text: words.filter(Boolean).join("  ·  ") }),
      t.prompt ? el("div", { text: t.prompt }) : null)));
    v.classList.remove("hidden");
  }
  $("viewer").addEventListener("click", () => { $("viewer").classList.add("hidden"); $("viewer").replaceChildren(); });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { $("viewer").classList.add("hidden"); $("viewer").replaceChildren(); }
  });

  // -- writes ---------------------------------------------------------------------------------
  async function doPick(shotId, step, t, btn) {
    btn.disabled = true;
    btn.textContent = "Picking…";
    try {
      const body = { shot: shotId, step: step, take: t.take };
      if (!t.current) body.version = t.version;
      const res = await post("/api/pick", body);
      state.sheet = res.sheet;
      renderHeader(state.sheet);
      renderCut(state.sheet);
      renderBoard(state.sheet);
      rerenderShot(shotId);
      const node = document.getElementById("shot-" + shotId);
      if (node) node.classList.add("flash");
      toast(res.said);
      loadPlan();
    } catch (err) {
      btn.disabled = false;
      btn.textContent = "Pick";
      toast(err.message, true);
    }
  }

  async function startBuild() {
    const btn = $("build");
    btn.disabled = true;
    try {
      const res = await post("/api/build", { tier: $("tier").value, jobs: Number($("jobs").value) });
      state.planned = res.planned;
    } catch (err) {
      btn.disabled = false;
      toast(err.message, true);
    }
  }

  // -- build progress -------------------------------------------------------------------------
  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(async () => { refreshTimer = null; await loadSheet(); }, 1200);
  }

  function onBuildEvent(ev) {
    const box = $("progress");
    const log = $("log");
    if (ev.type === "start") {
      state.building = true;
      state.made = 0;
      state.planned = ev.planned;
      box.className = "progress";
      log.replaceChildren();
      $("progress-label").textContent = `build · ${ev.tier} tier · -j ${ev.jobs}`;
      $("build").disabled = true;
    } else if (ev.type === "line") {
      const made = /^\s+made /.test(ev.text);
      if (made) { state.made += 1; refreshSoon(); }
      log.append(el("li", { class: made ? "made" : /error|failed/i.test(ev.text) ? "err" : "", text: ev.text }));
      log.scrollTop = log.scrollHeight;
    } else if (ev.type === "done") {
      state.building = false;
      box.className = "progress " + (ev.ok ? "ok" : "failed");
      for (const line of ev.summary) log.append(el("li", { text: line }));
      for (const line of ev.errors) log.append(el("li", { class: "err", text: line }));
      log.scrollTop = log.scrollHeight;
      $("build").disabled = false;
      toast(ev.ok ? `build done: made ${ev.made}` : "build failed: see its log", !ev.ok);
      loadSheet();
      loadPlan();
    }
    const total = Math.max(state.planned, state.made);
    $("progress-count").textContent = total ? `${state.made} / ${total}` : `${state.made}`;
    $("progress-fill").style.width = (ev.type === "done" ? 100 : total ? (100 * state.made) / total : 5) + "%";
  }

  function follow(seq) {
    const source = new EventSource("/api/events?since=" + seq);
    source.addEventListener("build", (m) => {
      const ev = JSON.parse(m.data);
      state.seq = ev.seq;
      onBuildEvent(ev);
    });
  }

  // -- loading ------------------------------------------------------------------------------
  async function loadSheet() {
    try {
      state.sheet = await getJSON("/api/sheet");
      renderAll();
    } catch (err) {
      toast("cannot read the film: " + err.message, true);
    }
  }

  let planAsked = 0;
  async function loadPlan() {
    const asked = ++planAsked;
    try {
      const plan = await getJSON("/api/plan?tier=" + encodeURIComponent($("tier").value));
      if (asked !== planAsked) return;
      state.plan = plan;
      renderPlan(plan);
      if (!state.building) $("build").disabled = false;
    } catch (err) {
      $("plan-sum").textContent = "plan: " + err.message;
    }
  }

  async function start() {
    if (!live) {
      const data = JSON.parse($("vf-data").textContent);
      state.sheet = data;
      $("build-controls").classList.add("hidden");
      $("foot-mode").textContent = "a static export: read-only. To pick a take, run its command in the film's folder.";
      renderAll();
      renderPlan(data.plan || null);
      return;
    }
    $("foot-mode").textContent = "served on 127.0.0.1 only; picks write locks/ through the same call as `vf pick`.";
    $("build").addEventListener("click", startBuild);
    $("tier").addEventListener("change", loadPlan);
    const build = getJSON("/api/build");
    await loadSheet();
    loadPlan(); // after the sheet: the contact sheet is what is looked at first
    try {
      const b = await build;
      state.building = b.running;
      $("build").disabled = b.running;
      follow(b.running ? b.start_seq - 1 : b.seq);
    } catch (err) {
      follow(0);
    }
  }

  start();
})();
