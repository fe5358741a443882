"""devmail: a local SMTP sink with a web page, like Ruby's MailCatcher.

Run ``python -m devmail`` and point the app's SMTP settings at
127.0.0.1:1025; caught mail shows up at http://127.0.0.1:1080. Nothing is
delivered anywhere and nothing is written to disk.

Options (flag / environment variable / default):

    --smtp-ip       DEVMAIL_SMTP_IP     127.0.0.1
    --smtp-port     DEVMAIL_SMTP_PORT   1025   (0 picks a free port)
    --http-ip       DEVMAIL_HTTP_IP     127.0.0.1
    --http-port     DEVMAIL_HTTP_PORT   1080   (0 picks a free port)
    --max-messages                      1000   (oldest dropped first)
    --max-size                          33554432 bytes (larger mail gets 552)

On start it prints one line with the real addresses, e.g.
``devmail: SMTP on 127.0.0.1:1025, web on http://127.0.0.1:1080``, and it exits
with status 0 on SIGINT or SIGTERM.

In-process use (tests)::

    with DevMail(smtp_port=0, http_port=0) as devmail:
        devmail.smtp_port, devmail.http_url, devmail.store.list()

HTTP API (MailCatcher's routes):

    GET    /messages                     JSON list, oldest first; ETag/304
    DELETE /messages                     204
    GET    /messages/<id>.json           + type, formats, attachments
    GET    /messages/<id>.html           HTML part (sandboxed by CSP)
    GET    /messages/<id>.plain          text part
    GET    /messages/<id>.source         raw message as text/plain
    GET    /messages/<id>.eml            raw message as a message/rfc822 download
    GET    /messages/<id>/parts/<cid>    attachment by Content-ID or 1-based index
    DELETE /messages/<id>                204, or 404 if unknown

The page at ``/`` polls ``GET /messages`` every 1.5 s. Stable selectors for
browser tests:

    #messages tbody tr[data-message-id]  one row per message, newest first;
                                         cells .sender .recipients .subject
                                         .size .created-at; click or Enter opens
    #count, #empty                       message count, "no messages" notice
    #clear                               deletes all messages
    #message[data-message-id]            the open message (hidden when none);
                                         #message-sender, #message-recipients,
                                         #message-subject, #message-created-at
    #tab-html, #tab-plain, #tab-source   tabs (role=tab, aria-selected, disabled
                                         when the format is missing)
    #html-view                           <iframe sandbox> showing <id>.html
    #plain-view, #source-view            <pre> with the text part / source
    #download-eml, #delete               .eml link, delete the open message
    #attachments a.attachment[data-cid]  attachment download links
"""

from devmail.server import DevMail, Ports
from devmail.store import Message, MessageStore

__all__ = ["DevMail", "Message", "MessageStore", "Ports"]
