module.exports = {
  title: 'The Pocket Weather Station',
  url: 'https://pocket-weather.example.org',
  baseUrl: '/',
  trailingSlash: false,
  presets: [['classic', { docs: { routeBasePath: 'docs' } }]],
};
