"""Drives the filestore dashboard in headless Chromium against a live 3-node cluster.

Usage: dashboard_test.py BASE_URL ADMIN_PASSWORD NODE3_PID ARTIFACTS_DIR
Run by Tests/AgentTests/Live/BrowserTests.swift; exits non-zero on the first failed check.
"""
import base64
import hashlib
import json
import os
import urllib.error
import shutil
import signal
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

# The dashboard re-renders its node cards every second: an element found just before a
# re-render is stale when read, so every wait polls again instead of failing on that.
RERENDERED = (StaleElementReferenceException,)

base, password, victim_pid, artifacts = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
os.makedirs(artifacts, exist_ok=True)
downloads = os.path.join(artifacts, "downloads")
shutil.rmtree(downloads, ignore_errors=True)
os.makedirs(downloads, exist_ok=True)

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
    options.add_argument(argument)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
wait = WebDriverWait(driver, 20, ignored_exceptions=RERENDERED)
console = []


def step(text):
    print(f"browser: {text}", flush=True)


def shot(name):
    driver.save_screenshot(os.path.join(artifacts, f"{name}.png"))


def collect_console():
    console.extend(driver.get_log("browser"))


def login(user, secret):
    driver.get(base + "/ui")
    wait.until(EC.presence_of_element_located((By.ID, "user")))
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(secret)
    driver.find_element(By.ID, "login").click()
    wait.until(EC.presence_of_element_located((By.ID, "logout")))


def logout():
    collect_console()
    driver.find_element(By.ID, "logout").click()
    wait.until(EC.presence_of_element_located((By.ID, "user")))


try:
    step("log in as admin")
    login("admin", password)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#nodes .node[data-status=alive]")) == 3)
    wait.until(lambda d: d.find_element(By.ID, "ring").find_elements(By.TAG_NAME, "path"))
    # Every node card names the node's S3 endpoint, which gossip carries.
    wait.until(lambda d: len([e for e in d.find_elements(By.CSS_SELECTOR, "#nodes [data-role=s3]") if e.text.startswith("S3 http")]) == 3)
    shot("dashboard")

    step("upload a file through the form and watch its progress bar")
    content = os.urandom(6 * 1024 * 1024 + 123)
    source = os.path.join(artifacts, "upload.bin")
    with open(source, "wb") as handle:
        handle.write(content)
    driver.get(base + "/ui/files")
    driver.find_element(By.ID, "upload-prefix").send_keys("browser")
    driver.find_element(By.ID, "file-input").send_keys(source)
    item = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "li[data-upload='browser/upload.bin']")))
    WebDriverWait(driver, 60).until(lambda d: item.get_attribute("data-done") in ("true", "error"))
    assert item.get_attribute("data-done") == "true", item.text
    assert float(item.find_element(By.TAG_NAME, "progress").get_attribute("value")) == 100.0

    step("find it in the list")
    row = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-path='browser/upload.bin']")))
    driver.find_element(By.ID, "prefix").send_keys("browser/")
    driver.find_element(By.CSS_SELECTOR, "#search button").click()
    listed = "return [...document.querySelectorAll('#file-rows tr')].map(row => row.dataset.path)"
    wait.until(lambda d: d.execute_script(listed) == ["browser/upload.bin"])
    shot("files")

    step("download it and compare the bytes")
    row = driver.find_element(By.CSS_SELECTOR, "tr[data-path='browser/upload.bin']")
    row.find_element(By.CSS_SELECTOR, "a.download").click()
    target = os.path.join(downloads, "upload.bin")
    deadline = time.time() + 30
    while time.time() < deadline and (not os.path.exists(target) or os.path.getsize(target) != len(content)):
        time.sleep(0.2)
    with open(target, "rb") as handle:
        assert hashlib.sha256(handle.read()).digest() == hashlib.sha256(content).digest(), "downloaded bytes differ"

    step("an uploaded HTML page cannot run script in the dashboard's origin")
    evil = b"<html><body><script>localStorage.setItem('pwned', 'script ran in the UI origin');document.title='pwned'</script>hi</body></html>"
    authorization = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()
    put = urllib.request.Request(base + "/api/v1/files/browser/evil.html", data=evil, method="PUT", headers={"Authorization": authorization})
    assert urllib.request.urlopen(put).status == 201
    answer = urllib.request.urlopen(urllib.request.Request(base + "/api/v1/files/browser/evil.html", headers={"Authorization": authorization}))
    assert answer.headers.get("X-Content-Type-Options") == "nosniff", answer.headers
    assert "sandbox" in answer.headers.get("Content-Security-Policy", ""), answer.headers
    assert answer.headers.get("Content-Disposition", "").startswith("attachment"), answer.headers
    driver.execute_script("localStorage.removeItem('pwned')")
    driver.get(base + "/api/v1/files/browser/evil.html")  # with the session cookie, as a user clicking a link
    deadline = time.time() + 10
    while time.time() < deadline and not os.path.exists(os.path.join(downloads, "evil.html")):
        time.sleep(0.2)
    assert os.path.exists(os.path.join(downloads, "evil.html")), "the HTML file is saved, not rendered"
    driver.get(base + "/ui/files")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-path='browser/evil.html']")))
    assert driver.execute_script("return localStorage.getItem('pwned')") is None, "the uploaded page ran script in the UI's origin"
    assert driver.title != "pwned"
    deleted = urllib.request.Request(base + "/api/v1/files/browser/evil.html", method="DELETE", headers={"Authorization": authorization})
    assert urllib.request.urlopen(deleted).status == 204

    step("open its chunk map")
    driver.find_element(By.CSS_SELECTOR, "tr[data-path='browser/upload.bin'] td a").click()
    chunks = -(-len(content) // (1 << 20))  # the live test clusters use 1 MiB chunks
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chunk-rows tr")) == chunks)
    for chunk in driver.find_elements(By.CSS_SELECTOR, "#chunk-rows tr"):
        assert len(chunk.find_elements(By.CSS_SELECTOR, ".replica")) >= 2, chunk.text
    assert driver.find_element(By.ID, "file-sha").text == hashlib.sha256(content).hexdigest()
    shot("file-detail")

    step("admin page: create a plain user, preview a ring change")
    driver.get(base + "/ui/admin")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#user-rows tr[data-user=admin]"))
    driver.find_element(By.ID, "new-name").send_keys("plain")
    driver.find_element(By.ID, "new-password").send_keys("plain-password-1")
    driver.find_element(By.CSS_SELECTOR, "#new-user button").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#user-rows tr[data-user=plain]"))
    driver.find_element(By.ID, "plan-node").send_keys("node4")
    driver.find_element(By.CSS_SELECTOR, "#plan button").click()
    wait.until(lambda d: "key space" in d.find_element(By.ID, "plan-result").text)
    shot("admin")

    step("phone-sized screens")
    driver.set_window_size(390, 844)
    driver.get(base + "/ui")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#nodes .node[data-status=alive]")) == 3)
    shot("dashboard-phone")
    driver.get(base + "/ui/files")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-path='browser/upload.bin']")))
    shot("files-phone")
    driver.set_window_size(1280, 1000)

    step("kill a node and watch the dashboard mark it")
    driver.get(base + "/ui")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#nodes .node[data-status=alive]")) == 3)
    killed = time.time()
    os.kill(victim_pid, signal.SIGKILL)
    WebDriverWait(driver, 20, poll_frequency=0.2, ignored_exceptions=RERENDERED).until(
        lambda d: d.find_element(By.ID, "node-node3").get_attribute("data-status") in ("suspect", "dead"))
    suspected = time.time() - killed
    WebDriverWait(driver, 30, poll_frequency=0.2, ignored_exceptions=RERENDERED).until(lambda d: d.find_element(By.ID, "node-node3").get_attribute("data-status") == "dead")
    dead = time.time() - killed
    step(f"node3 shown suspect after {suspected:.1f} s and dead after {dead:.1f} s")
    assert dead <= 10, f"the dashboard showed node3 dead only after {dead:.1f} s"
    shot("dashboard-node-dead")
    logout()

    step("a plain user gets no admin pages")
    login("plain", "plain-password-1")
    assert not driver.find_elements(By.ID, "nav-admin"), "a plain user sees the admin link"
    driver.get(base + "/ui/admin")
    assert "Only admins" in driver.page_source
    driver.get(base + "/ui/files")
    wait.until(EC.presence_of_element_located((By.ID, "file-rows")))
    wait.until(lambda d: d.find_element(By.ID, "file-count").text != "")
    assert driver.execute_script(listed) == [], "another user's file is listed"

    step("S3 keys page: a key made on the page signs S3 requests until it is deleted on the page")
    cluster = json.load(urllib.request.urlopen(urllib.request.Request(base + "/api/v1/cluster", headers={"Authorization": "Basic " + base64.b64encode(b"plain:plain-password-1").decode()})))
    s3_url = cluster["nodes"][0].get("s3")
    assert s3_url and s3_url.startswith("http"), f"the cluster status names no S3 endpoint: {cluster['nodes'][0]}"
    driver.get(base + "/ui/keys")
    wait.until(EC.presence_of_element_located((By.ID, "key-rows")))
    assert driver.find_element(By.ID, "key-user").get_attribute("readonly") is not None, "a plain user may pick another user's keys"
    driver.find_element(By.ID, "create-key").click()
    wait.until(lambda d: d.find_element(By.ID, "new-key").is_displayed() and len(d.find_elements(By.CSS_SELECTOR, "#key-rows tr")) == 1)
    key_id, key_secret = driver.find_element(By.ID, "new-key-id").text, driver.find_element(By.ID, "new-key-secret").text
    assert len(key_id) >= 16 and len(key_secret) >= 30, f"the page shows no usable key: {key_id!r}"
    shot("keys")
    import botocore.session
    from botocore.config import Config
    s3 = botocore.session.get_session().create_client(
        "s3", endpoint_url=s3_url, aws_access_key_id=key_id, aws_secret_access_key=key_secret, region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    s3.create_bucket(Bucket="keys-page")
    assert "keys-page" in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]], "the bucket made with the page's key is not listed"
    driver.refresh()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#key-rows tr")) == 1)
    assert key_secret not in driver.page_source, "the secret is shown again after a reload"
    driver.find_element(By.CSS_SELECTOR, f"#key-rows tr[data-key='{key_id}'] button").click()
    driver.switch_to.alert.accept()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#key-rows tr")) == 0)
    try:
        s3.list_buckets()
        raise AssertionError("a key deleted on the keys page still signs S3 requests")
    except s3.exceptions.ClientError as error:
        assert error.response["Error"]["Code"] == "InvalidAccessKeyId", f"a deleted key answered {error.response['Error']}"

    step("tokens page: the session and a CLI token; revoking the CLI token from the page")
    plain_basic = "Basic " + base64.b64encode(b"plain:plain-password-1").decode()
    made = urllib.request.urlopen(urllib.request.Request(base + "/api/v1/auth/tokens", data=b"", method="POST", headers={"Authorization": plain_basic, "X-Requested-With": "dashboard-test"}))
    cli_token = json.load(made)["token"]
    cli_id = hashlib.sha256(cli_token.encode()).hexdigest()
    driver.get(base + "/ui/tokens")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#token-rows tr")) == 2)
    assert "this session" in driver.find_element(By.ID, "token-rows").text, "the page does not mark the session's own token"
    shot("tokens")
    driver.find_element(By.CSS_SELECTOR, f"#token-rows tr[data-token='{cli_id}'] button").click()
    driver.switch_to.alert.accept()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#token-rows tr")) == 1)
    try:
        urllib.request.urlopen(urllib.request.Request(base + "/api/v1/files", headers={"Authorization": f"Bearer {cli_token}"}))
        raise AssertionError("a token revoked from the tokens page still works")
    except urllib.error.HTTPError as error:
        assert error.code == 401, f"a revoked token answered {error.code}"
    logout()
    driver.get(base + "/ui/files")
    assert driver.find_elements(By.ID, "user"), "after logout the pages ask to log in again"

    collect_console()
    # The 403 of the admin page opened on purpose as a plain user is the one expected console error.
    errors = [entry for entry in console if entry["level"] == "SEVERE" and "/ui/admin" not in entry["message"]]
    assert not errors, f"browser console errors: {errors}"
    step("all browser checks passed")
except Exception:
    shot("failure")
    print(driver.page_source[:3000], file=sys.stderr)
    raise
finally:
    driver.quit()
