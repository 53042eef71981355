"""browser.py - lm-serve's chat page in headless Chromium (Selenium, with
Debian's chromium and chromium-driver; nothing is downloaded): send a
message and see the reply grow token by token, stop a reply, a second
session, reload and find both with their messages, switch a session's
model, delete a session, HTML in titles and messages shown as text.
Screenshots of the page in a desktop and a phone-sized window go to
$LMU_SCREENSHOTS, else a temporary folder (the last lines of the test
say where)."""
import json
import os
import shutil
import tempfile
import time

from servetest import SMOLLM2, Server, Tap

t = Tap()
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
for path, pkg in ((CHROMIUM, "chromium"), (DRIVER, "chromium-driver")):
    if not os.access(path, os.X_OK):
        t.skip_all("%s is missing (apt-get install %s, or make deps)" % (path, pkg))

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>'
shots = os.environ.get("LMU_SCREENSHOTS") or tempfile.mkdtemp(prefix="lm-serve-screenshots-")
os.makedirs(shots, exist_ok=True)


def browser():
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,800", "--lang=en-US", "--disable-extensions", "--no-first-run"):
        o.add_argument(a)
    d = webdriver.Chrome(service=Service(DRIVER), options=o)
    d.set_page_load_timeout(60)
    return d


def wait(d, cond, secs=60, what="the page"):
    try:
        return WebDriverWait(d, secs, poll_frequency=0.05).until(lambda _: cond())
    except TimeoutException:
        return None


def idle(d, secs=120):
    return wait(d, lambda: d.execute_script("return document.body.dataset.state") == "idle", secs)


def replies(d):
    return d.find_elements(By.CSS_SELECTOR, "#msgs .msg.assistant")


def session_rows(d):
    return d.find_elements(By.CSS_SELECTOR, "#sessions li")


def type_and_send(d, text):
    box = d.find_element(By.ID, "input")
    box.click()
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def watch_reply(d):
    """Record every length the reply being written takes, with the time."""
    d.execute_script("""
        window.__growth = [];
        const log = document.getElementById('msgs');
        new MutationObserver(() => {
          const r = log.querySelector('.msg.assistant.streaming .body');
          if (r) window.__growth.push([performance.now(), r.textContent.length]);
        }).observe(log, {subtree: true, childList: true, characterData: true});""")


home = tempfile.mkdtemp(prefix="lm-serve-browser-")
mdir = os.path.join(home, "models")
os.makedirs(mdir)
try:
    os.link(SMOLLM2, os.path.join(mdir, "second-model.gguf"))
except OSError:
    shutil.copyfile(SMOLLM2, os.path.join(mdir, "second-model.gguf"))
MODEL = os.path.basename(SMOLLM2)[:-5]

# Every step 50 ms longer (lm-serve(1), LMU_SERVE_STEP_DELAY): replies take
# seconds, not a fraction of one, so the Stop button is still there when the
# test clicks it (on a quiet machine a short reply ended in between).
with Server(["--models", mdir, "--parallel", "2"], home=home, env={"LMU_SERVE_STEP_DELAY": "0.05"}) as s:
    url = "http://%s:%d/" % (s.host, s.port)
    d = browser()
    try:
        d.get(url)
        t.ok(wait(d, lambda: d.find_elements(By.CSS_SELECTOR, "#model option")) is not None,
             "the page loads and lists the models")
        opts = [o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, "#model option")]
        t.ok(MODEL in opts and "second-model" in opts, "both models are in the model menu", opts)
        Select(d.find_element(By.ID, "model")).select_by_value(MODEL)

        # a message; the reply grows token by token
        d.find_element(By.ID, "gear").click()
        mt = d.find_element(By.ID, "s-max_tokens")
        mt.send_keys("60")
        d.find_element(By.ID, "s-temperature").send_keys("0")
        d.find_element(By.ID, "gear").click()
        watch_reply(d)
        type_and_send(d, "Write a short poem about the sea.")
        t.ok(wait(d, lambda: d.execute_script("return document.body.dataset.state") == "generating", 10),
             "Enter sends the message")
        idle(d)
        growth = d.execute_script("return window.__growth")
        lengths = sorted({n for _, n in growth})
        t.ok(len(lengths) >= 5, "the reply grew in %d steps before it was done" % len(lengths), growth[:20])
        r = replies(d)
        t.ok(len(r) == 1 and len(r[0].find_element(By.CSS_SELECTOR, ".body").text) > 10, "the reply is on the page")
        meta = r[0].find_element(By.CSS_SELECTOR, ".meta").text
        t.ok("tokens/s" in meta and MODEL in meta, "under it: the model and tokens/s (%s)" % meta)
        t.ok("tokens/s" in d.find_element(By.ID, "speed").text, "the status line shows tokens/s")
        rows = session_rows(d)
        t.is_(len(rows), 1, "the new session is in the sidebar")
        first_id = rows[0].get_attribute("data-id")

        # Shift+Enter is a new line, not a send
        box = d.find_element(By.ID, "input")
        box.send_keys("line one")
        box.send_keys(Keys.SHIFT, Keys.ENTER)
        box.send_keys("line two")
        t.is_(box.get_attribute("value"), "line one\nline two", "Shift+Enter makes a new line")
        box.clear()

        # stop a reply
        d.find_element(By.ID, "gear").click()
        mt = d.find_element(By.ID, "s-max_tokens")
        mt.clear()
        mt.send_keys("400")
        mt.send_keys(Keys.TAB)
        d.find_element(By.ID, "gear").click()
        time.sleep(0.3)  # the settings are saved (PATCH)
        type_and_send(d, "Count from 1 to 300, one number per line.")
        grew = wait(d, lambda: len(replies(d)) == 2 and
                    len(replies(d)[1].find_element(By.CSS_SELECTOR, ".body").text) > 8, 60)
        t.ok(d.find_element(By.ID, "stop").is_displayed(), "while it writes, the Stop button shows")
        d.find_element(By.ID, "stop").click()
        stopped = idle(d, 20)
        last = replies(d)[-1]
        t.ok(grew and stopped and last.get_attribute("data-finish") == "cancelled" and
             "stopped" in last.find_element(By.CSS_SELECTOR, ".meta").text, "Stop ends the reply, marked stopped")

        # a second session, with HTML in its message
        d.find_element(By.ID, "new").click()
        t.is_(len(d.find_elements(By.CSS_SELECTOR, "#msgs .msg")), 0, "New chat: an empty page")
        d.find_element(By.ID, "gear").click()
        d.find_element(By.ID, "s-max_tokens").clear()
        d.find_element(By.ID, "s-max_tokens").send_keys("8")
        d.find_element(By.ID, "gear").click()
        type_and_send(d, HOSTILE)
        idle(d)
        wait(d, lambda: len(session_rows(d)) == 2, 10)
        t.is_(len(session_rows(d)), 2, "two sessions in the sidebar")
        user = d.find_elements(By.CSS_SELECTOR, "#msgs .msg.user .body")
        t.ok(user and user[-1].text == HOSTILE, "a message with HTML is shown as text")
        second_id = d.execute_script("return location.hash.slice(1)")
        wait(d, lambda: any(r.get_attribute("data-id") == second_id and HOSTILE[:20] in r.text
                            for r in session_rows(d)), 10)
        t.ok(any(HOSTILE[:20] in r.text for r in session_rows(d)), "... and so is the title made of it")
        t.ok(not d.find_elements(By.CSS_SELECTOR, "#msgs img, #msgs script, #msgs b, #sessions img, #sessions b") and
             d.execute_script("return window.__xss === undefined"), "... and none of it runs or becomes elements")
        # a title with HTML set over REST
        st, p = s.json("PATCH", "/api/sessions/" + first_id, {"title": HOSTILE})
        t.ok(st == 200 and p["title"] == HOSTILE, "a title with HTML set over REST", (st, p))

        d.set_window_size(1280, 800)
        d.save_screenshot(os.path.join(shots, "desktop.png"))

        # reload: both sessions, with their messages
        d.get(url + "#" + first_id)
        d.refresh()
        wait(d, lambda: len(session_rows(d)) == 2 and len(replies(d)) == 2, 30)
        titles = [r.find_element(By.CSS_SELECTOR, ".title").text for r in session_rows(d)]
        t.ok(len(session_rows(d)) == 2 and HOSTILE in titles, "after a reload: both sessions (a title with HTML as text)",
             titles)
        t.ok(len(replies(d)) == 2 and len(d.find_elements(By.CSS_SELECTOR, "#msgs .msg.user")) == 2,
             "... the first session's messages are back")
        t.ok(d.execute_script("return window.__xss === undefined") and
             not d.find_elements(By.CSS_SELECTOR, "#sessions img, #sessions b"), "... nothing of the title runs")
        d.execute_script("document.querySelector('#sessions li[data-id=\"%s\"] .title').click()" % second_id)
        wait(d, lambda: d.find_elements(By.CSS_SELECTOR, "#msgs .msg.user") and
             d.find_elements(By.CSS_SELECTOR, "#msgs .msg.user .body")[0].text == HOSTILE, 20)
        t.is_(d.find_elements(By.CSS_SELECTOR, "#msgs .msg.user .body")[0].text, HOSTILE,
              "... and the second session's")

        # switch the second session's model
        Select(d.find_element(By.ID, "model")).select_by_value("second-model")
        wait(d, lambda: s.json("GET", "/api/sessions/" + second_id)[1]["model"] == "second-model", 10)
        t.is_(s.json("GET", "/api/sessions/" + second_id)[1]["model"], "second-model",
              "choosing a model changes the session's model")
        type_and_send(d, "Say hello.")
        idle(d)
        meta = replies(d)[-1].find_element(By.CSS_SELECTOR, ".meta").text
        t.ok(meta.startswith("second-model"), "... and its next reply comes from it (%s)" % meta)

        # code blocks: an imported conversation with one
        code = 'int main(void)\n{\n\tputs("<hello>");\n\treturn 0;\n}'
        st, cs = s.json("POST", "/api/sessions", {"title": "C", "messages": [
            {"role": "user", "content": "Hello world in C, please."},
            {"role": "assistant", "content": "Here it is, with `puts`:\n\n```c\n%s\n```\n\nBuild it with "
                                             "`cc hello.c`." % code, "model": MODEL}]})
        d.get(url + "#" + cs["id"])
        d.refresh()
        wait(d, lambda: d.find_elements(By.CSS_SELECTOR, "#msgs .codeblock pre code"), 20)
        blocks = d.find_elements(By.CSS_SELECTOR, "#msgs .codeblock pre code")
        inl = [c.text for c in d.find_elements(By.CSS_SELECTOR, "#msgs p code")]
        t.ok(len(blocks) == 1 and blocks[0].get_attribute("textContent") == code and
             d.find_element(By.CSS_SELECTOR, "#msgs .codeblock .head").text.startswith("c"),
             "a fenced code block is shown as a code block, its text as it is")
        t.is_(inl, ["puts", "cc hello.c"], "inline code too")
        d.save_screenshot(os.path.join(shots, "desktop-code.png"))
        d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme",
                                                                        "value": "dark"}]})
        d.save_screenshot(os.path.join(shots, "desktop-dark.png"))
        d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        d.get(url + "#" + second_id)
        d.refresh()
        wait(d, lambda: len(replies(d)) == 2, 20)

        # the phone
        d.set_window_size(390, 844)
        time.sleep(0.3)
        t.ok(not d.find_element(By.ID, "side").is_displayed() or
             d.find_element(By.ID, "side").rect["x"] < -100, "on a phone the sidebar is hidden")
        overflow = d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        t.ok(overflow <= 0, "... nothing sticks out sideways (%d px)" % overflow)
        d.save_screenshot(os.path.join(shots, "phone.png"))
        d.find_element(By.ID, "menu").click()
        time.sleep(0.4)
        t.ok(d.find_element(By.ID, "side").rect["x"] >= 0, "... the menu button opens it")
        d.save_screenshot(os.path.join(shots, "phone-sessions.png"))

        # delete a session
        d.set_window_size(1280, 800)
        time.sleep(0.3)
        d.execute_script("window.confirm = () => true")
        d.find_element(By.CSS_SELECTOR, '#sessions li[data-id="%s"] button.delete' % second_id).click()
        wait(d, lambda: len(session_rows(d)) == 1, 10)
        t.is_(sorted(r.get_attribute("data-id") for r in session_rows(d)), sorted([first_id, cs["id"]]),
              "Delete removes the session")
        st, _ = s.json("GET", "/api/sessions/" + second_id)
        t.is_(st, 404, "... from the server too")
        logs = [e for e in d.get_log("browser") if e.get("level") == "SEVERE"] if hasattr(d, "get_log") else []
        t.ok(not logs, "no errors in the browser's console", logs)
    finally:
        d.quit()
t.diag("screenshots in %s: desktop.png, desktop-code.png, desktop-dark.png, phone.png, phone-sessions.png" % shots)
shutil.rmtree(home)
t.done()
