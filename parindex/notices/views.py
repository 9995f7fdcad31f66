"""The list of a person's notifications; opening one or "mark all read" marks them read."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from parindex.notices.models import Notification
from parindex.notices.selectors import notices_of
from parindex.notices.services import notices_mark_read

PAGE_SIZE = 50


@login_required
def notice_list(request):
    page = Paginator(notices_of(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notices/list.html", {"page": page})


@login_required
@require_POST
def notice_open(request, pk: int):
    """Mark one notification read and go to its page. Another person's notification is a 404."""
    notice = get_object_or_404(Notification, pk=pk, user=request.user)
    notices_mark_read(user=request.user, ids=[notice.pk])
    safe = notice.link and url_has_allowed_host_and_scheme(notice.link, allowed_hosts=None)
    return redirect(notice.link if safe else "notices:list")


@login_required
@require_POST
def notices_read_all(request):
    notices_mark_read(user=request.user)
    return redirect("notices:list")
