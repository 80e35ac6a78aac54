"""`vf review`: the contact sheet of every take, in the browser.

`server` serves it on 127.0.0.1 (look, pick, build); `static` writes it as read-only files;
`sheet` turns the library's answers (`Film.status`, `Film.takes`, `Film.plan`) into the data
the page renders; `thumbs` makes each artifact's thumbnail once; `page` holds the page's files.
"""
