// Small progressive enhancements; every page works without JavaScript.

// A change saved by htmx (autosave of a row) that the server refuses or that never reaches it: the
// message goes beside the field that was being saved, with the server's reason when it gave one
// (templates/403.html puts it in .reason, the refusal pages of the assessment in p.error); only a request from outside any form falls back to the top.
function parindexReason(xhr) {
  try {
    var doc = new DOMParser().parseFromString((xhr && xhr.responseText) || "", "text/html");
    var reason = doc.querySelector(".reason, p.error[role=alert]");
    return reason ? reason.textContent.trim() : "";
  } catch (e) {
    return "";
  }
}

function parindexShowError(event) {
  var xhr = event.detail.xhr;
  var english = document.documentElement.lang === "en";
  var status = xhr && xhr.status ? " (" + xhr.status + ")" : "";
  var text = parindexReason(xhr) || (english
    ? "The change was not saved" + status + ". Reload the page and try again."
    : "Chưa lưu được thay đổi" + status + ". Tải lại trang và thử lại.");
  var elt = event.detail.elt;
  var anchor = elt && elt.closest ? elt.closest("form") : null;
  var box;
  if (anchor) {
    box = anchor.querySelector(".htmx-row-error");
    if (!box) {
      box = document.createElement("p");
      box.className = "field-error htmx-row-error";
      box.setAttribute("role", "alert");
      anchor.appendChild(box);
    }
  } else {
    box = document.getElementById("htmx-error");
    if (!box) {
      box = document.createElement("p");
      box.id = "htmx-error";
      box.className = "error";
      box.setAttribute("role", "alert");
      document.querySelector("main").prepend(box);
    }
  }
  box.textContent = text;
}

document.addEventListener("htmx:responseError", parindexShowError);
document.addEventListener("htmx:sendError", parindexShowError);

// A save refused because another person changed the row after it was read answers 409 with the row
// again (the other person's values named in the message, and a reload link): swap it in like a 200.
document.addEventListener("htmx:beforeSwap", function (event) {
  if (event.detail.xhr && event.detail.xhr.status === 409) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// Behaviour that would otherwise sit in handler attributes (onclick=…, onchange=…), which the
// Content-Security-Policy forbids: a button marked data-print prints the page; a field marked
// data-submit-on-change submits its form when changed (e.g. the criterion picker of the council grid).
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("[data-print]") : null;
  if (button) {
    window.print();
  }
});
document.addEventListener("change", function (event) {
  var field = event.target;
  if (field.matches && field.matches("[data-submit-on-change]") && field.form) {
    field.form.submit();
  }
});
