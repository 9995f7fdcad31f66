// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("htmx:responseError", function (event) {
  var box = document.getElementById("htmx-error");
  if (!box) {
    box = document.createElement("p");
    box.id = "htmx-error";
    box.className = "error";
    box.setAttribute("role", "alert");
    document.querySelector("main").prepend(box);
  }
  box.textContent = (document.documentElement.lang === "en")
    ? "The change was not saved (" + event.detail.xhr.status + "). Reload the page and try again."
    : "Chưa lưu được thay đổi (" + event.detail.xhr.status + "). Tải lại trang và thử lại.";
});
