// Progressive enhancements of the portal's server-rendered pages: confirmations, copy, drag-and-drop
// upload, jumping from a finding to its span in the document text, and a selection as a clause example.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    const copyButton = event.target.closest("[data-copy]");
    if (copyButton) {
      const input = document.querySelector(copyButton.dataset.copy);
      const status = copyButton.parentElement.querySelector(".copied");
      input.select();
      const done = function () { if (status) status.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          document.execCommand("copy");
          done();
        });
      } else {
        document.execCommand("copy");
        done();
      }
      return;
    }
    const findingLink = event.target.closest("a[data-finding]");
    if (findingLink) {
      event.preventDefault();
      showFinding(findingLink.dataset.finding, findingLink);
    }
  });

  // Selecting text of a document fills the "Teach a clause type" passage, so a reviewer marks a clause the
  // heads missed without copying it by hand.
  document.addEventListener("mouseup", function (event) {
    const text = event.target.closest("pre.doc-text");
    const passage = document.querySelector("textarea[data-fills-from-selection]");
    const selected = window.getSelection().toString().trim();
    if (text && passage && selected) {
      passage.value = selected;
    }
  });

  function showFinding(number, link) {
    document.querySelectorAll("mark.active").forEach(function (mark) { mark.classList.remove("active"); });
    document.querySelectorAll("a[data-finding][aria-current]").forEach(function (a) { a.removeAttribute("aria-current"); });
    const marks = document.querySelectorAll('mark[data-findings~="' + number + '"]');
    marks.forEach(function (mark) { mark.classList.add("active"); });
    link.setAttribute("aria-current", "true");
    const anchor = document.getElementById("finding-" + number);
    const target = marks.length ? marks[0] : anchor;
    if (target) {
      target.scrollIntoView({ behavior: "smooth", block: "center" });
      history.replaceState(null, "", "#finding-" + number);
    }
  }

  function setUpDropzone(zone) {
    const input = zone.querySelector('input[type="file"]:not([data-folder])');
    const form = zone.closest("form");
    const folder = zone.querySelector("input[data-folder]");
    if (folder) {
      // A chosen folder's files (all of its subfolders) are sent like a dropped folder's.
      folder.addEventListener("change", function () {
        if (!folder.files.length) return;
        send(Array.from(folder.files).map(function (file) {
          return { file: file, path: file.webkitRelativePath || file.name };
        }));
      });
    }
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      droppedFiles(event.dataTransfer).then(send);
    });

    // Submit the files, each with its path in its folder as a `path` field, in the files' order.
    function send(entries) {
      const transfer = new DataTransfer();
      form.querySelectorAll("input[data-path]").forEach(function (old) { old.remove(); });
      entries.forEach(function (entry) {
        transfer.items.add(entry.file);
        const path = document.createElement("input");
        path.type = "hidden";
        path.name = "path";
        path.value = entry.path;
        path.setAttribute("data-path", "");
        form.appendChild(path);
      });
      input.files = transfer.files;
      form.requestSubmit();
    }
  }

  // The files of a drop, each with its path; a dropped folder is walked.
  function droppedFiles(transfer) {
    const entries = Array.from(transfer.items || [])
      .map(function (item) { return item.webkitGetAsEntry ? item.webkitGetAsEntry() : null; })
      .filter(Boolean);
    if (!entries.some(function (entry) { return entry.isDirectory; })) {
      return Promise.resolve(Array.from(transfer.files).map(function (file) { return { file: file, path: file.name }; }));
    }
    return Promise.all(entries.map(filesOfEntry)).then(flatten);
  }

  function filesOfEntry(entry) {
    if (entry.isFile) {
      return new Promise(function (resolve, reject) { entry.file(resolve, reject); }).then(function (file) {
        return [{ file: file, path: entry.fullPath.replace(/^\//, "") }];
      });
    }
    const reader = entry.createReader();
    function readAll(found) {
      return new Promise(function (resolve, reject) { reader.readEntries(resolve, reject); }).then(function (batch) {
        return batch.length ? readAll(found.concat(batch)) : found;
      });
    }
    return readAll([]).then(function (children) { return Promise.all(children.map(filesOfEntry)); }).then(flatten);
  }

  function flatten(lists) { return [].concat.apply([], lists); }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-dropzone]").forEach(setUpDropzone);
    const match = /^#finding-(\d+)$/.exec(window.location.hash);
    const link = match && document.querySelector('a[data-finding="' + match[1] + '"]');
    if (link) showFinding(match[1], link);
  });
})();
