// mesos-py web UI: refreshes each page's live part in place, browses a task's
// sandbox, tails its output and shows an agent's usage.  Everything the agents
// send is inserted as text (textContent), never as HTML.
"use strict";

(function () {
  const TAIL_CHUNK = 65536;
  const TAIL_BACKLOG = 65536;
  const SLOW_REFRESH_MS = 5000;  // usage and sandbox listings

  function setStatus(text) {
    const status = document.getElementById("refresh-status");
    if (status) status.textContent = text;
  }

  function getJSON(url) {
    return fetch(url, { cache: "no-store" }).then((response) => {
      if (!response.ok) {
        return response.text().then((text) => { throw new Error(response.status + " " + text); });
      }
      return response.json();
    });
  }

  function element(tag, text, attributes) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    Object.entries(attributes || {}).forEach(([name, value]) => node.setAttribute(name, value));
    return node;
  }

  // ------------------------------------------------------------ live parts

  function refreshLive(live) {
    const url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    fetch(url, { cache: "no-store" })
      .then((response) => {
        if (!response.ok) throw new Error(String(response.status));
        if (response.headers.get("x-ui-page") !== document.body.dataset.page) {
          window.location.reload();  // e.g. this standby now leads: show the real page
          return null;
        }
        return response.text();
      })
      .then((html) => {
        if (html === null) return;
        live.innerHTML = html;  // rendered (and escaped) by the master's templates
        live.dataset.refreshedAt = String(Date.now());
        setStatus("");
      })
      .catch((error) => setStatus("refresh failed: " + error.message));
  }

  function startLive() {
    document.querySelectorAll("[data-live]").forEach((live) => {
      const every = Number(live.dataset.refresh) || 2000;
      window.setInterval(() => {
        if (!document.hidden) refreshLive(live);
      }, every);
    });
  }

  // ------------------------------------------------------------ usage

  function showUsage(box) {
    getJSON(box.dataset.usage)
      .then((entries) => {
        const table = element("table", undefined, { class: "usage" });
        const head = table.createTHead().insertRow();
        ["Executor", "Framework", "CPU user s", "CPU system s", "CPU limit", "RSS MB", "Mem limit MB"]
          .forEach((title) => head.appendChild(element("th", title)));
        const body = table.createTBody();
        entries.forEach((entry) => {
          const s = entry.statistics || {};
          const row = body.insertRow();
          [
            entry.executor_id, entry.framework_id,
            (s.cpus_user_time_secs || 0).toFixed(2), (s.cpus_system_time_secs || 0).toFixed(2),
            s.cpus_limit, ((s.mem_rss_bytes || 0) / 1048576).toFixed(1),
            ((s.mem_limit_bytes || 0) / 1048576).toFixed(0),
          ].forEach((value) => row.insertCell().textContent = String(value));
        });
        if (!entries.length) {
          body.insertRow().insertCell().textContent = "No running executors";
        }
        box.replaceChildren(table);
      })
      .catch((error) => box.replaceChildren(element("p", "usage unavailable: " + error.message, { class: "error" })));
  }

  // ------------------------------------------------------------ sandbox

  function startSandbox(box) {
    const base = box.dataset.sandbox;   // .../proxy/files/
    const root = box.dataset.root;
    const listing = box.querySelector("[data-listing]");
    const crumbs = box.querySelector("[data-crumbs]");
    const tail = box.querySelector("[data-tail]");
    const tailName = box.querySelector("[data-tail-name]");
    const follow = box.querySelector("[data-follow]");
    let tailing = null;  // {path, offset, timer}
    let browsing = root;

    function browse(path) {
      browsing = path;
      crumbs.textContent = path.startsWith(root) ? "sandbox" + path.slice(root.length) : path;
      getJSON(base + "browse?path=" + encodeURIComponent(path))
        .then((entries) => {
          listing.replaceChildren();
          if (path !== root) {
            const up = listing.insertRow();
            const link = element("a", "..", { href: "#" });
            link.addEventListener("click", (event) => {
              event.preventDefault();
              browse(path.slice(0, path.lastIndexOf("/")));
            });
            up.insertCell().appendChild(link);
          }
          entries.forEach((entry) => {
            const row = listing.insertRow();
            const name = entry.path.slice(entry.path.lastIndexOf("/") + 1);
            const link = element("a", name, { href: "#" });
            const isDirectory = entry.mode.startsWith("d");
            link.addEventListener("click", (event) => {
              event.preventDefault();
              if (isDirectory) browse(entry.path); else startTail(entry.path);
            });
            row.insertCell().appendChild(link);
            row.insertCell().textContent = isDirectory ? "" : String(entry.size);
            row.insertCell().textContent = new Date(entry.mtime * 1000).toISOString();
            const download = row.insertCell();
            if (!isDirectory) {
              download.appendChild(element("a", "download", {
                href: "http://" + box.dataset.agentAddress + "/files/download?path=" + encodeURIComponent(entry.path),
              }));
            }
          });
        })
        .catch((error) => {
          listing.replaceChildren();
          listing.insertRow().insertCell().textContent = "sandbox unavailable: " + error.message;
        });
    }

    function readMore() {
      const current = tailing;
      const url = base + "read?path=" + encodeURIComponent(current.path) +
        "&offset=" + current.offset + "&length=" + TAIL_CHUNK;
      getJSON(url)
        .then((chunk) => {
          if (tailing !== current) return;
          // The agent's text is exactly as long in UTF-8 as the bytes it shows
          // (a character cut at the end, up to 3 bytes, waits for the next read).
          const bytes = chunk.data ? new TextEncoder().encode(chunk.data).length : 0;
          if (bytes) {
            tail.appendChild(document.createTextNode(chunk.data));
            current.offset += bytes;
            if (follow.checked) tail.scrollTop = tail.scrollHeight;
          }
          tail.dataset.offset = String(current.offset);
          const full = bytes > TAIL_CHUNK - 4;
          current.timer = window.setTimeout(readMore, full ? 0 : 1000);
        })
        .catch((error) => {
          if (tailing !== current) return;
          setStatus("tail: " + error.message);
          current.timer = window.setTimeout(readMore, 2000);
        });
    }

    function startTail(path) {
      if (tailing) window.clearTimeout(tailing.timer);
      tail.replaceChildren();
      tailName.textContent = path.slice(path.lastIndexOf("/") + 1);
      const current = { path: path, offset: 0, timer: null };
      tailing = current;
      getJSON(base + "read?path=" + encodeURIComponent(path) + "&offset=-1")
        .then((size) => {
          if (tailing !== current) return;
          current.offset = Math.max(0, size.offset - TAIL_BACKLOG);
          readMore();
        })
        .catch((error) => {
          if (tailing !== current) return;
          tail.textContent = path + ": " + error.message;
          current.timer = window.setTimeout(() => startTail(path), 2000);
        });
    }

    box.querySelectorAll("[data-file]").forEach((button) => {
      button.addEventListener("click", () => startTail(root + "/" + button.dataset.file));
    });
    browse(root);
    startTail(root + "/stdout");
    window.setInterval(() => {
      if (!document.hidden) browse(browsing);
    }, SLOW_REFRESH_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    startLive();
    document.querySelectorAll("[data-usage]").forEach((box) => {
      showUsage(box);
      window.setInterval(() => {
        if (!document.hidden) showUsage(box);
      }, SLOW_REFRESH_MS);
    });
    document.querySelectorAll("[data-sandbox]").forEach(startSandbox);
  });
})();
