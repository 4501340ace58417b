<!doctype html>
<html lang="{{lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, interactive-widget=resizes-content">
<meta name="referrer" content="same-origin">
<meta name="csrf-token" content="{{csrf}}">
<title>{{t('wc_title')}} · SynoChatGPT</title>
<link rel="icon" href="/static/icon.svg?v={{version}}" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css?v={{version}}">
<link rel="stylesheet" href="/static/chat.css?v={{version}}">
<script src="/static/markdown.js?v={{version}}" defer></script>
<script src="/static/chat.js?v={{version}}" defer></script>
</head>
<body class="chat-page">
<aside id="sidebar" aria-label="{{t('wc_chats')}}">
  <button type="button" id="new-chat" class="primary">{{t('wc_new')}}</button>
  <h2>{{t('wc_chats')}}</h2>
  <ul id="chat-list"></ul>
  <div class="who">
    <p>{{t('wc_signed_in', name=who)}}</p>
    % if is_admin:
    <p><a href="/" id="settings-link">{{t('wc_settings')}}</a></p>
    % end
    <nav class="langs" aria-label="{{t('language')}}">
    % for code in languages:
      % if code == lang:
      <strong lang="{{code}}">{{t.language_name(code)}}</strong>
      % else:
      <a href="/chat?lang={{code}}" lang="{{code}}" hreflang="{{code}}">{{t.language_name(code)}}</a>
      % end
    % end
    </nav>
    <form method="post" action="/chat/logout">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <button type="submit" class="link" id="logout">{{t('logout')}}</button>
    </form>
  </div>
</aside>
<main id="main">
  <header class="chat-top">
    <button type="button" id="menu" aria-label="{{t('wc_menu')}}">☰</button>
    <h1 id="chat-title">{{t('wc_new')}}</h1>
    <a id="export" href="#" download>{{t('wc_export')}}</a>
    <button type="button" id="delete" class="link">{{t('wc_delete')}}</button>
  </header>
  <div id="messages" aria-live="polite"></div>
  <form id="composer" autocomplete="off">
    <div id="pictures" class="pictures" hidden></div>
    <input type="file" id="picture-file" accept="image/*" multiple hidden>
    <button type="button" id="attach" title="{{t('wc_attach')}}" aria-label="{{t('wc_attach')}}">🖼</button>
    <textarea id="input" rows="2" placeholder="{{t('wc_placeholder')}}" aria-label="{{t('wc_placeholder')}}"></textarea>
    <button type="submit" id="send" class="primary">{{t('wc_send')}}</button>
    <button type="button" id="draw" title="{{t('wc_draw')}}">🎨 {{t('wc_draw')}}</button>
    <button type="button" id="stop" hidden>{{t('wc_stop')}}</button>
  </form>
</main>
<script type="application/json" id="texts">{{!texts}}</script>
</body>
</html>
