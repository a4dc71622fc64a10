// Sign-in: mobile + password, or mobile + SMS code (POST /api/v1/auth/sms-code, then /auth/login).

import * as api from "../api.js";
import { h, mount, notice } from "../dom.js";

const MOBILE = /^1\d{10}$/;
const RESEND_SECONDS = 60; // the API allows one code a minute per number

export function render(root, { navigate }) {
  let mode = "password";
  let timer = null;
  const status = h("div", { class: "status", "aria-live": "polite" });
  const say = (text, kind) => mount(status, text ? notice(text, kind) : null);

  const mobile = h("input", { id: "mobile", name: "mobile", type: "tel", inputmode: "numeric",
    autocomplete: "tel", maxlength: 11, required: true, placeholder: "11 位手机号" });
  const password = h("input", { id: "password", name: "password", type: "password",
    autocomplete: "current-password", required: true, placeholder: "密码" });
  const code = h("input", { id: "sms-code", name: "sms_code", type: "text", inputmode: "numeric",
    autocomplete: "one-time-code", maxlength: 6, placeholder: "6 位验证码" });
  const sendButton = h("button", { type: "button", id: "send-code", class: "secondary" }, "获取验证码");
  const submit = h("button", { type: "submit", id: "login-submit", class: "primary" }, "登录");

  const passwordRow = h("label", { class: "field" }, h("span", {}, "密码"), password);
  const codeRow = h("div", { class: "field", hidden: true },
    h("label", { for: "sms-code" }, "短信验证码"), h("div", { class: "inline" }, code, sendButton));

  const tabPassword = h("button", { type: "button", role: "tab", id: "tab-password", class: "tab",
    "aria-selected": "true" }, "密码登录");
  const tabSms = h("button", { type: "button", role: "tab", id: "tab-sms", class: "tab",
    "aria-selected": "false" }, "验证码登录");

  function choose(next) {
    mode = next;
    tabPassword.setAttribute("aria-selected", String(mode === "password"));
    tabSms.setAttribute("aria-selected", String(mode === "sms"));
    passwordRow.hidden = mode !== "password";
    codeRow.hidden = mode !== "sms";
    password.required = mode === "password";
    code.required = mode === "sms";
    say("");
  }
  tabPassword.addEventListener("click", () => choose("password"));
  tabSms.addEventListener("click", () => choose("sms"));

  function checkedMobile() {
    const value = mobile.value.replace(/\s+/g, "");
    if (!MOBILE.test(value)) {
      say("请输入正确的 11 位手机号", "error");
      mobile.focus();
      return null;
    }
    return value;
  }

  function countdown(seconds) {
    sendButton.disabled = true;
    sendButton.textContent = `${seconds} 秒后重发`;
    timer = setInterval(() => {
      seconds -= 1;
      if (seconds <= 0 || !sendButton.isConnected) {
        clearInterval(timer);
        sendButton.disabled = false;
        sendButton.textContent = "重新获取";
      } else {
        sendButton.textContent = `${seconds} 秒后重发`;
      }
    }, 1000);
  }

  sendButton.addEventListener("click", async () => {
    const number = checkedMobile();
    if (!number) return;
    sendButton.disabled = true;
    try {
      await api.sendSmsCode(number);
      say("如该手机号已登记，验证码已发送，请查收短信", "ok");
      countdown(RESEND_SECONDS);
      code.focus();
    } catch (error) {
      sendButton.disabled = false;
      say(error.message, "error");
    }
  });

  const form = h("form", { id: "login-form", novalidate: true },
    h("label", { class: "field" }, h("span", {}, "手机号"), mobile), passwordRow, codeRow, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = checkedMobile();
    if (!number) return;
    const secret = mode === "password" ? password.value : code.value.trim();
    if (!secret) {
      say(mode === "password" ? "请输入密码" : "请输入短信验证码", "error");
      return;
    }
    submit.disabled = true;
    say("正在登录…");
    try {
      if (mode === "password") await api.loginWithPassword(number, secret);
      else await api.loginWithSmsCode(number, secret);
      navigate("#/home");
    } catch (error) {
      say(error.message, "error");
      submit.disabled = false;
    }
  });

  mount(root, h("section", { class: "screen login" },
    h("header", { class: "brand" }, h("img", { src: "/pwa/icons/icon-192.png", alt: "", width: 56, height: 56 }),
      h("h1", {}, "技能培训电子券"), h("p", { class: "muted" }, "学员登录")),
    h("div", { role: "tablist", class: "tabs" }, tabPassword, tabSms),
    form, status));
  return () => clearInterval(timer);
}
