// The API's refusal codes (server/domain, server/api: `code="…"`) as the trainee reads them.
// A code not listed here falls back to the server's own Chinese message, then to a generic one.

export const MESSAGES = {
  // transport and HTTP
  OFFLINE: "网络不可用，请检查网络后重试",
  SERVER_ERROR: "服务器暂时无法处理，请稍后再试",
  BAD_REQUEST: "请求格式不正确",
  INVALID_JSON: "请求格式不正确",
  NOT_FOUND: "内容不存在",
  METHOD_NOT_ALLOWED: "不支持该操作",
  PAYLOAD_TOO_LARGE: "上传内容过大",
  UNSUPPORTED_MEDIA_TYPE: "上传内容的类型不支持",
  RATE_LIMITED: "操作过于频繁，请稍后再试",
  VALIDATION_FAILED: "填写的内容不正确，请检查后重试",
  FORBIDDEN: "无权执行此操作",
  // signing in
  NOT_AUTHENTICATED: "请先登录",
  INVALID_CREDENTIALS: "手机号或密码不正确",
  INVALID_SMS_CODE: "验证码不正确或已过期，请重新获取",
  INVALID_MOBILE: "请输入正确的 11 位手机号",
  ACCOUNT_LOCKED: "密码错误次数过多，账号已暂时锁定，请稍后再试或用短信验证码登录",
  ACCOUNT_DISABLED: "账号已停用，请联系当地人社部门",
  TOKEN_INVALID: "登录已失效，请重新登录",
  // vouchers
  NOT_ELIGIBLE: "暂不符合申领条件",
  VOUCHER_NOT_FOUND: "电子券不存在",
  VOUCHER_HAS_NO_QR: "该电子券当前状态没有二维码",
  VOUCHER_UNAVAILABLE: "电子券当前状态不能使用",
  VOUCHER_MISMATCH: "电子券与班级不符",
  VOUCHER_REVOKED: "该电子券已作废",
  VOUCHER_EXPIRED: "该电子券已过期",
  VOUCHER_NOT_ISSUED: "该电子券尚未发放",
  VOUCHER_ALREADY_BOUND: "该电子券已在本班验券",
  VOUCHER_OTHER_REGION: "该电子券不是本地区发放的",
  VOUCHER_CLASS_MISMATCH: "电子券的工种、等级或培训类型与班级不符",
  VOUCHER_NOT_IN_CLASS: "该电子券未在本班验券",
  VOUCHER_SIGNIN_DUPLICATE: "本课时已扫券签到",
  ILLEGAL_VOUCHER_TRANSITION: "电子券当前状态不能进行该操作",
  INVALID_STATE: "电子券状态不正确",
  INVALID_SERIAL: "电子券编号不正确",
  // check-ins
  SESSION_NOT_FOUND: "课时不存在",
  CHECKIN_NOT_IN_CLASS: "您没有在本班验券，不能打卡",
  CHECKIN_VOUCHER_REVOKED: "您的电子券已作废，不能打卡",
  CHECKIN_VOUCHER_CLOSED: "培训已结束，不能打卡",
  CHECKIN_OUTSIDE_WINDOW: "现在不在打卡时间内（一般为开课前 30 分钟至开课后 15 分钟）",
  CHECKIN_DUPLICATE: "本课时已打过卡",
  CHECKIN_NOT_FOUND: "打卡记录不存在",
  INVALID_CHECKIN_KIND: "打卡类型不正确",
  FACE_CONSENT_REQUIRED: "请先同意使用人脸照片打卡，或请培训机构扫电子券签到",
  ACCURACY_TOO_POOR: "定位不够准确，请到开阔处稍后重试",
  POSITION_UNCERTAIN: "定位不够准确，无法确认在培训场地内，请稍后重试",
  INVALID_COORDINATES: "定位信息不正确，请重新定位",
  INVALID_ACCURACY: "定位信息不正确，请重新定位",
  INVALID_CLIENT_TIME: "手机时间不正确，请检查手机的日期和时间",
  INVALID_DEVICE_ID: "缺少设备标识，请刷新页面后重试",
  INVALID_IDEMPOTENCY_KEY: "请求标识不正确，请重新打卡",
  IDEMPOTENCY_KEY_REUSED: "该请求标识已用于另一次打卡，请重新打卡",
  SELFIE_TOO_LARGE: "自拍照不能超过 5 MB",
  INVALID_IMAGE: "照片无法识别，请重新拍摄",
  SELFIE_MISSING: "请先拍摄自拍照",
  SELFIE_NOT_AN_IMAGE: "上传的不是照片，请重新拍摄",
  SELFIE_TYPE_MISMATCH: "照片格式不正确，请重新拍摄",
  SELFIE_TOO_MANY_PIXELS: "照片尺寸过大，请重新拍摄",
  SELFIE_CORRUPT: "照片已损坏，请重新拍摄",
  SELFIE_TOO_SMALL: "照片太小，无法辨认，请重新拍摄",
  SELFIE_INVALID: "自拍照不符合要求，请重新拍摄",
  // certificates
  UNKNOWN_CERTIFICATE: "证书不存在",
};

// CHECKIN_OUTSIDE_WINDOW says why (details.reason) and when the window opens and closes.
const WINDOW_REASONS = {
  early: (opens) => `还没到打卡时间${opens ? `，${opens} 起可以打卡` : ""}`,
  late: (opens, closes) => `打卡时间已过${closes ? `（${closes} 截止）` : ""}，请联系培训机构`,
  captured_outside_window: () => "离线打卡的拍摄时间不在打卡时间内",
  offline_too_long: () => "离线打卡上传过晚（超过 12 小时），请联系培训机构",
};

function clockTime(iso) {
  const when = iso ? new Date(iso) : null;
  return when && !Number.isNaN(when.getTime()) ? when.toLocaleTimeString("zh-CN", {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false }) : "";
}

/** The window refusal's message from its details, or null when they say nothing known. */
export function windowMessage(details = {}) {
  const say = WINDOW_REASONS[details.reason];
  return say ? say(clockTime(details.opens), clockTime(details.closes)) : null;
}

const FALLBACK = "操作未成功，请稍后再试";

/** The Chinese message for an API refusal: ours for a known code, else the server's, else generic. */
export function messageFor(code, serverMessage) {
  if (code && Object.prototype.hasOwnProperty.call(MESSAGES, code)) return MESSAGES[code];
  return serverMessage || FALLBACK;
}
