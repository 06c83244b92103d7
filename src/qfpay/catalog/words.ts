import type { Language } from '../language.js';
import type { NormalisedStatus } from '../types.js';
import type { EnvironmentName } from './types.js';

/**
 * Words for people in the three languages of `src/qfpay/language.ts`, declared once next to the
 * tables they name. English for codes and pay types stays in `respcd.ts` / `pay-types.ts` (the
 * entries' own `meaning` and `name`); this file adds Traditional Chinese as written in Hong Kong
 * and Simplified Chinese.
 *
 * Sources: QFPay's own pay-type and status-code tables in Chinese (D
 * `i18n/zh-Hans/.../01-preparation/02-paycode.md`, and the older zh page under `i18n/zh/`), the
 * English tables for the same codes, and, for codes only in the old tables (G appendix), their
 * English wording. Written in this project's words; names of wallets follow QFPay's own
 * (微信支付, 支付寶/支付宝, 銀聯雲閃付/银联云闪付, 轉數快/转数快, 八達通/八达通).
 */

/** A word in every language. */
export type Words = Readonly<Record<Language, string>>;
/** The Chinese words of an entry whose English lives in its own table. */
export type ChineseWords = Readonly<Record<Exclude<Language, 'en'>, string>>;

function zh(hk: string, cn: string): ChineseWords {
  return { 'zh-HK': hk, 'zh-CN': cn };
}

/** Response codes: the meaning of each code in QFPay's tables (current and old). */
export const RESPCD_WORDS: Readonly<Record<string, ChineseWords>> = {
  '0000': zh(
    '成功；成功的是甚麼視乎接口（掃碼及網上支付只代表訂單已建立）',
    '成功；成功的含义取决于接口（扫码及线上支付仅表示订单已创建）',
  ),
  '1100': zh('QFPay 系統維護中', 'QFPay 系统维护中'),
  '1101': zh('未能撤銷（reversal）交易', '无法撤销（reversal）交易'),
  '1102': zh('重複請求：此訂單已提交過', '重复请求：此订单已提交过'),
  '1103': zh('請求格式有誤', '请求格式有误'),
  '1104': zh('請求參數缺失或無效', '请求参数缺失或无效'),
  '1105': zh('設備（app code）未啟用', '设备（app code）未激活'),
  '1106': zh('設備（app code）無效', '设备（app code）无效'),
  '1107': zh('設備（app code）無權進行此操作', '设备（app code）无权进行此操作'),
  '1108': zh('簽名錯誤：X-QF-SIGN 與請求不符', '签名错误：X-QF-SIGN 与请求不符'),
  '1125': zh('此交易已退款', '此交易已退款'),
  '1136': zh('交易不存在或無法處理', '交易不存在或无法处理'),
  '1142': zh('訂單已關閉', '订单已关闭'),
  '1143': zh('尚未付款：顧客未付款或仍在輸入錢包密碼', '尚未付款：顾客未付款或仍在输入钱包密码'),
  '1145': zh('處理中，請稍候', '处理中，请稍候'),
  '1147': zh('微信支付回報交易錯誤', '微信支付返回交易错误'),
  '1150': zh('不支援撤銷：商戶為 T0（即日）結算', '不支持撤销：商户为 T0（当日）结算'),
  '1155': zh('退款請求被拒絕', '退款请求被拒绝'),
  '1181': zh('訂單已過期', '订单已过期'),
  '1201': zh('付款人餘額不足', '付款人余额不足'),
  '1202': zh('付款碼（auth_code）錯誤或已過期', '付款码（auth_code）错误或已过期'),
  '1203': zh('商戶帳戶錯誤', '商户账户错误'),
  '1204': zh('銀行錯誤', '银行错误'),
  '1205': zh('交易失敗，請稍後再試', '交易失败，请稍后重试'),
  '1212': zh('顧客須使用銀聯境外付款碼', '顾客须使用银联境外付款码'),
  '1241': zh('店舖不存在或狀態不正確', '店铺不存在或状态不正确'),
  '1242': zh('店舖設定有誤', '店铺配置有误'),
  '1243': zh('店舖已被停用', '店铺已被禁用'),
  '1250': zh('此交易被禁止', '此交易被禁止'),
  '1251': zh('店舖設定有誤，QFPay 正在處理', '店铺配置有误，QFPay 正在处理'),
  '1252': zh('建立訂單時發生系統錯誤', '创建订单时发生系统错误'),
  '1254': zh('QFPay 系統出現問題，正在處理', 'QFPay 系统出现问题，正在处理'),
  '1260': zh('訂單已付款', '订单已支付'),
  '1261': zh('訂單尚未付款', '订单尚未支付'),
  '1262': zh('訂單已退款', '订单已退款'),
  '1263': zh('訂單已撤銷', '订单已撤销'),
  '1264': zh('訂單已關閉', '订单已关闭'),
  '1265': zh(
    '不可退款：香港時間 23:30 至 00:30 的交易及部分推廣交易不設退款',
    '不可退款：香港时间 23:30 至 00:30 的交易及部分促销交易不支持退款',
  ),
  '1266': zh('金額與訂單不符', '金额与订单不符'),
  '1267': zh('訂單資料不符', '订单信息不符'),
  '1268': zh('訂單不存在', '订单不存在'),
  '1269': zh('當日未結算款項不足以支付此退款', '当日未结算金额不足以支付此退款'),
  '1270': zh('此幣種不支援部分退款', '此币种不支持部分退款'),
  '1271': zh('此交易不支援部分退款', '此交易不支持部分退款'),
  '1272': zh('退款金額超出可退款金額', '退款金额超出可退款金额'),
  '1294': zh('交易被判定有風險，已被銀行攔截', '交易被判定有风险，已被银行拦截'),
  '1295': zh('網絡擠塞，正在等候回應', '网络拥堵，正在等待响应'),
  '1296': zh('網絡擠塞，請稍後再試或改用其他付款方式', '网络拥堵，请稍后重试或改用其他支付方式'),
  '1297': zh('銀行系統繁忙，請稍後再試或改用其他付款方式', '银行系统繁忙，请稍后重试或改用其他支付方式'),
  '1298': zh('網絡擠塞；顧客可能已付款，切勿重複付款', '网络拥堵；顾客可能已付款，切勿重复支付'),
  '2005': zh('顧客的付款碼錯誤或已過期', '顾客的付款码错误或已过期'),
  '2011': zh('交易流水號（out_trade_no）重複', '交易流水号（out_trade_no）重复'),
  // Codes only in QFPay's old tables.
  '1109': zh('加密或解密錯誤', '加密或解密错误'),
  '1110': zh('流水號錯誤', '流水号错误'),
  '1111': zh('外部服務不可用', '外部服务不可用'),
  '1112': zh('內部服務不可用', '内部服务不可用'),
  '1113': zh('用戶不存在', '用户不存在'),
  '1114': zh('用戶已被凍結', '用户已被冻结'),
  '1115': zh('用戶權限受限', '用户权限受限'),
  '1116': zh('用戶密碼錯誤', '用户密码错误'),
  '1117': zh('用戶不在線', '用户不在线'),
  '1118': zh('風險控制禁止此交易', '风控禁止此交易'),
  '1119': zh('不允許此交易類型', '不允许此交易类型'),
  '1120': zh('不允許在此時間交易', '不允许在此时间交易'),
  '1121': zh('不允許此卡類型', '不允许此卡类型'),
  '1122': zh('不允許此幣種', '不允许此币种'),
  '1123': zh('不允許此金額', '不允许此金额'),
  '1124': zh('無效交易', '无效交易'),
  '1126': zh('原交易資料不符', '原交易信息不符'),
  '1127': zh('資料庫錯誤', '数据库错误'),
  '1128': zh('檔案系統錯誤', '文件系统错误'),
  '1130': zh('不允許在此日期交易', '不允许在此日期交易'),
  '1131': zh('渠道錯誤', '渠道错误'),
  '1132': zh('客戶端版本錯誤', '客户端版本错误'),
  '1133': zh('用戶渠道資料錯誤', '用户渠道信息错误'),
  '1134': zh('撤銷所用的卡與付款所用的卡不同', '撤销所用的卡与支付所用的卡不同'),
  '1135': zh('用戶設定錯誤', '用户配置错误'),
  '1137': zh('聯絡資料不存在', '联系信息不存在'),
  '1138': zh('密鑰更新錯誤', '密钥更新错误'),
  '1139': zh('卡號或磁條錯誤', '卡号或磁条错误'),
  '1140': zh('帳戶尚未審批', '账户尚未审核'),
  '1141': zh('渠道 MAC 或加密錯誤', '渠道 MAC 或加密错误'),
  '1144': zh('請求處理失敗（協議）', '请求处理失败（协议）'),
  '1146': zh('訂單處理業務錯誤', '订单处理业务错误'),
  '1151': zh('原預授權資料不符', '原预授权信息不符'),
  '1152': zh('預授權已無法完成', '预授权已无法完成'),
  '1153': zh('預授權金額錯誤', '预授权金额错误'),
  '1154': zh('內部錯誤', '内部错误'),
  '1161': zh('結果未明，須查詢交易', '结果未明，须查询交易'),
  '1170': zh('渠道無法提供服務', '渠道无法提供服务'),
  '1180': zh('路由已重設，須重新設定', '路由已重置，须重新配置'),
  '2001': zh('機構不存在', '机构不存在'),
  '2002': zh('商戶綁定失敗', '商户绑定失败'),
  '2003': zh('簽名驗證失敗', '签名验证失败'),
  '2004': zh('付款人餘額不足', '付款人余额不足'),
  '2006': zh('二維碼無效', '二维码无效'),
  '2007': zh('顧客已關閉訂單', '顾客已关闭订单'),
  '2008': zh('向渠道發送的參數錯誤', '向渠道发送的参数错误'),
  '2009': zh('連接渠道失敗', '连接渠道失败'),
  '2010': zh('與渠道通訊時發生未知錯誤', '与渠道通信时发生未知错误'),
  '2012': zh('渠道證書設定錯誤', '渠道证书配置错误'),
};

/**
 * Meanings that depend on where a code was read (`explainRespcd`'s context), in every language.
 * Affixes are added to a code's own meaning.
 */
export const RESPCD_CONTEXT_WORDS = {
  cpmPaid: {
    en: 'Payment successful: the money has been taken from the customer.',
    'zh-HK': '付款成功：款項已從顧客扣除',
    'zh-CN': '支付成功：款项已从顾客扣除',
  },
  orderCreated: {
    en: 'Order created, NOT paid yet: the customer still has to pay.',
    'zh-HK': '訂單已建立，但尚未付款：顧客仍須付款',
    'zh-CN': '订单已创建，但尚未支付：顾客仍须付款',
  },
  paymentAccepted: {
    en: 'Payment request accepted: final success for CPM (auth_code) payments, but only "order created, not paid yet" for every other mode.',
    'zh-HK': '付款請求已受理：反掃（CPM）即為成功；其他方式只代表訂單已建立、尚未付款',
    'zh-CN': '支付请求已受理：反扫（CPM）即为成功；其他方式仅表示订单已创建、尚未支付',
  },
  queryWorked: {
    en: 'The query itself worked; it says nothing yet about the transactions.',
    'zh-HK': '查詢本身成功；這並不代表交易的結果',
    'zh-CN': '查询本身成功；这并不代表交易的结果',
  },
  rowSucceeded: {
    en: 'The transaction succeeded (for a payment: paid; for a refund row: refunded).',
    'zh-HK': '交易成功（付款即已付款；退款即已退款）',
    'zh-CN': '交易成功（支付即已付款；退款即已退款）',
  },
  refundAccepted: {
    en: 'Refund accepted: the refund transaction was created.',
    'zh-HK': '退款已受理：已建立退款交易',
    'zh-CN': '退款已受理：已创建退款交易',
  },
  orderCancelled: {
    en: 'The order was cancelled.',
    'zh-HK': '訂單已取消',
    'zh-CN': '订单已取消',
  },
  notificationSuccess: {
    en: 'Notification of a successful payment or refund (notifications always carry 0000).',
    'zh-HK': '付款或退款成功的通知（通知的返回碼一律為 0000）',
    'zh-CN': '支付或退款成功的通知（通知的返回码一律为 0000）',
  },
  cannotCancel: {
    en: 'The order cannot be cancelled (or the bank is busy).',
    'zh-HK': '此訂單無法取消（或銀行繁忙）',
    'zh-CN': '此订单无法取消（或银行繁忙）',
  },
  duplicateRefund: {
    en: 'Duplicate: a refund or payment with this out_trade_no already exists.',
    'zh-HK': '重複：已有使用此 out_trade_no 的退款或付款',
    'zh-CN': '重复：已有使用此 out_trade_no 的退款或支付',
  },
  unknownCode: {
    en: 'This code is not in QFPay’s published tables.',
    'zh-HK': '此返回碼不在 QFPay 公佈的代碼表內',
    'zh-CN': '此返回码不在 QFPay 公布的代码表内',
  },
  preauthAccepted: {
    en: 'Pre-authorisation accepted: by scanned code (801801) the amount is now held; otherwise the customer still has to approve it.',
    'zh-HK': '預授權已受理：掃碼（801801）的金額現已凍結；其他方式仍待顧客確認',
    'zh-CN': '预授权已受理：扫码（801801）的金额现已冻结；其他方式仍待顾客确认',
  },
  captureAccepted: {
    en: 'Capture accepted: the capture transaction was created.',
    'zh-HK': '預授權完成已受理：已建立扣款交易',
    'zh-CN': '预授权完成已受理：已创建扣款交易',
  },
  releaseAccepted: {
    en: 'Release accepted: the uncaptured rest of the pre-authorisation is freed.',
    'zh-HK': '解凍已受理：預授權未扣款的餘額已釋放',
    'zh-CN': '解冻已受理：预授权未扣款的余额已释放',
  },
  captureInProgressSuffix: {
    en: ' (capture in progress)',
    'zh-HK': '（預授權完成處理中）',
    'zh-CN': '（预授权完成处理中）',
  },
  releaseInProgressSuffix: {
    en: ' (release in progress)',
    'zh-HK': '（解凍處理中）',
    'zh-CN': '（解冻处理中）',
  },
  refundInProgressSuffix: {
    en: ' (refund in progress)',
    'zh-HK': '（退款處理中）',
    'zh-CN': '（退款处理中）',
  },
  cancelInProgressSuffix: {
    en: ' (cancellation in progress)',
    'zh-HK': '（取消處理中）',
    'zh-CN': '（取消处理中）',
  },
  rowFailedPrefix: { en: 'The transaction failed: ', 'zh-HK': '交易失敗：', 'zh-CN': '交易失败：' },
} as const satisfies Readonly<Record<string, Words>>;

/** Pay-type names, by code (QFPay's own zh table where it names the type). */
export const PAY_TYPE_WORDS: Readonly<Record<string, ChineseWords>> = {
  '800008': zh(
    '統一反掃（微信支付、支付寶、銀聯雲閃付、PayMe）',
    '统一反扫（微信支付、支付宝、银联云闪付、PayMe）',
  ),
  '800101': zh('支付寶跨境線下掃碼（店內二維碼）', '支付宝跨境线下扫码（店内二维码）'),
  '800108': zh('支付寶跨境反掃', '支付宝跨境反扫'),
  '801101': zh('支付寶網上掃碼（電腦瀏覽器）', '支付宝线上扫码（电脑浏览器）'),
  '801107': zh('支付寶網上 WAP（手機瀏覽器）', '支付宝线上 WAP（手机浏览器）'),
  '801110': zh('支付寶 App 內付款', '支付宝 App 内支付'),
  '800107': zh('支付寶服務窗 H5（支付寶 App 內）', '支付宝服务窗 H5（支付宝 App 内）'),
  '801501': zh('支付寶掃碼（店內二維碼），香港', '支付宝扫码（店内二维码），香港'),
  '801510': zh('支付寶 App 內付款，香港', '支付宝 App 内支付，香港'),
  '801512': zh('支付寶網上 WAP（手機瀏覽器），香港', '支付宝线上 WAP（手机浏览器），香港'),
  '801514': zh('支付寶網上 WEB（電腦瀏覽器），香港', '支付宝线上 WEB（电脑浏览器），香港'),
  '800201': zh('微信支付掃碼／網頁二維碼', '微信支付扫码／网页二维码'),
  '800208': zh('微信支付反掃', '微信支付反扫'),
  '800207': zh('微信支付 JSAPI（公眾號，微信內）', '微信支付 JSAPI（公众号，微信内）'),
  '800212': zh('微信支付 H5（手機瀏覽器）', '微信支付 H5（手机浏览器）'),
  '800210': zh('微信支付 App 內付款', '微信支付 App 内支付'),
  '800213': zh('微信支付小程序', '微信支付小程序'),
  '801008': zh('微信支付香港反掃（直接結算）', '微信支付香港反扫（直接结算）'),
  '801010': zh('微信支付香港 App 內付款（直接結算）', '微信支付香港 App 内支付（直接结算）'),
  '805801': zh('PayMe 掃碼（店內二維碼）', 'PayMe 扫码（店内二维码）'),
  '805808': zh('PayMe 反掃', 'PayMe 反扫'),
  '805814': zh('PayMe 網上 WEB（電腦瀏覽器）', 'PayMe 线上 WEB（电脑浏览器）'),
  '805812': zh('PayMe 網上 WAP（手機瀏覽器）', 'PayMe 线上 WAP（手机浏览器）'),
  '800701': zh('銀聯雲閃付掃碼（店內二維碼）', '银联云闪付扫码（店内二维码）'),
  '800708': zh('銀聯雲閃付反掃', '银联云闪付反扫'),
  '800712': zh('銀聯雲閃付網上 WAP（手機瀏覽器），香港', '银联云闪付线上 WAP（手机浏览器），香港'),
  '800714': zh('銀聯雲閃付網上 PC 網頁，香港', '银联云闪付线上 PC 网页，香港'),
  '802001': zh('轉數快 FPS 掃碼', '转数快 FPS 扫码'),
  '803701': zh('八達通動態二維碼', '八达通动态二维码'),
  '803712': zh('八達通網上 WAP（手機瀏覽器）', '八达通线上 WAP（手机浏览器）'),
  '803714': zh('八達通網上 PC 網頁', '八达通线上 PC 网页'),
  '803708': zh('八達通（QFPay 終端機，ECR）', '八达通（QFPay 终端机，ECR）'),
  '802801': zh('Visa / Mastercard 網上付款', 'Visa / Mastercard 线上支付'),
  '802808': zh('Visa / Mastercard 線下刷卡（終端機）', 'Visa / Mastercard 线下刷卡（终端机）'),
  '806527': zh('Apple Pay 網上付款', 'Apple Pay 线上支付'),
  '806708': zh('銀聯卡線下刷卡（終端機）', '银联卡线下刷卡（终端机）'),
  '806808': zh('American Express 線下刷卡（終端機）', 'American Express 线下刷卡（终端机）'),
  '801801': zh('支付寶預授權（文件標示為反掃）', '支付宝预授权（文档标注为反扫）'),
  '801808': zh('支付寶預授權（文件標示為掃碼）', '支付宝预授权（文档标注为扫码）'),
  '801810': zh('支付寶預授權 App 內', '支付宝预授权 App 内'),
  '801814': zh('支付寶預授權網上', '支付宝预授权线上'),
  // Types only in old QFPay docs.
  '805810': zh('PayMe App 內付款', 'PayMe App 内支付'),
  '800710': zh('銀聯 App 內付款，香港', '银联 App 内支付，香港'),
  '805508': zh('信用卡（First Data，快捷模式）', '信用卡（First Data，快捷模式）'),
  '805514': zh('信用卡（First Data，安全驗證模式）', '信用卡（First Data，安全验证模式）'),
};

/** Normalised statuses as words for people; the enum values themselves never change. */
export const STATUS_WORDS: Readonly<Record<NormalisedStatus, Words>> = {
  PAID: { en: 'paid', 'zh-HK': '已付款', 'zh-CN': '已支付' },
  AWAITING_CUSTOMER: {
    en: 'waiting for the customer to pay',
    'zh-HK': '等待顧客付款',
    'zh-CN': '等待顾客付款',
  },
  PROCESSING: { en: 'processing', 'zh-HK': '處理中', 'zh-CN': '处理中' },
  FAILED: { en: 'failed', 'zh-HK': '失敗', 'zh-CN': '失败' },
  CANCELLED: { en: 'cancelled', 'zh-HK': '已取消', 'zh-CN': '已取消' },
  REFUNDED: { en: 'refunded', 'zh-HK': '已退款', 'zh-CN': '已退款' },
  PARTIALLY_REFUNDED: { en: 'partially refunded', 'zh-HK': '已部分退款', 'zh-CN': '已部分退款' },
  EXPIRED: { en: 'expired', 'zh-HK': '已過期', 'zh-CN': '已过期' },
  UNKNOWN: { en: 'outcome not known yet', 'zh-HK': '結果未明', 'zh-CN': '结果未明' },
};

/** Currency names for people (the ISO code stays as it is). */
export const CURRENCY_WORDS: Readonly<Record<string, ChineseWords>> = {
  AED: zh('阿聯酋迪拉姆', '阿联酋迪拉姆'),
  AUD: zh('澳元', '澳元'),
  CAD: zh('加元', '加元'),
  CNY: zh('人民幣', '人民币'),
  EUR: zh('歐元', '欧元'),
  HKD: zh('港元', '港元'),
  IDR: zh('印尼盾', '印尼盾'),
  JPY: zh('日圓', '日元'),
  MMK: zh('緬甸元', '缅甸元'),
  MYR: zh('馬來西亞令吉', '马来西亚林吉特'),
  SGD: zh('新加坡元', '新加坡元'),
  THB: zh('泰銖', '泰铢'),
  USD: zh('美元', '美元'),
};

/** Environment titles for people in Chinese (English: the environment's own title). */
export const ENVIRONMENT_WORDS: Readonly<Record<EnvironmentName, ChineseWords>> = {
  local: zh('內置模擬器', '内置模拟器'),
  sandbox: zh('QFPay 沙盒測試環境', 'QFPay 沙箱测试环境'),
  test: zh('QFPay 實時測試環境', 'QFPay 实时测试环境'),
  prod: zh('QFPay 正式環境', 'QFPay 生产环境'),
};
